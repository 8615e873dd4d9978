output "uploads_bucket_name" {
  description = "SNAPQUEUE_UPLOADS_BUCKET."
  value       = aws_s3_bucket.uploads.id
}

output "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = aws_s3_bucket.uploads.arn
}

output "processed_bucket_name" {
  description = "SNAPQUEUE_PROCESSED_BUCKET."
  value       = aws_s3_bucket.processed.id
}

output "processed_bucket_arn" {
  description = "ARN of the processed bucket."
  value       = aws_s3_bucket.processed.arn
}

output "logs_bucket_name" {
  description = "The access-log bucket."
  value       = aws_s3_bucket.logs.id
}

output "upload_queue_name" {
  description = "SNAPQUEUE_UPLOAD_QUEUE."
  value       = aws_sqs_queue.upload_events.name
}

output "upload_queue_arn" {
  description = "ARN of the upload-events queue."
  value       = aws_sqs_queue.upload_events.arn
}

output "upload_dlq_name" {
  description = "SNAPQUEUE_UPLOAD_DLQ."
  value       = aws_sqs_queue.upload_dlq.name
}

output "images_table_name" {
  description = "SNAPQUEUE_IMAGES_TABLE."
  value       = aws_dynamodb_table.images.name
}

output "images_table_arn" {
  description = "ARN of ImageMetadata."
  value       = aws_dynamodb_table.images.arn
}

output "gallery_index_name" {
  description = "SNAPQUEUE_GALLERY_INDEX."
  value       = var.gallery_index_name
}

output "owner_index_name" {
  description = "SNAPQUEUE_OWNER_INDEX."
  value       = var.owner_index_name
}

output "usage_table_name" {
  description = "SNAPQUEUE_USAGE_TABLE."
  value       = aws_dynamodb_table.usage.name
}

output "usage_table_arn" {
  description = "ARN of UsageCounters."
  value       = aws_dynamodb_table.usage.arn
}

output "connections_table_name" {
  description = "SNAPQUEUE_CONNECTIONS_TABLE."
  value       = aws_dynamodb_table.connections.name
}

output "connections_table_arn" {
  description = "ARN of WebSocketConnections."
  value       = aws_dynamodb_table.connections.arn
}
