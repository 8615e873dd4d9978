variable "name" {
  description = "Name prefix of the stack."
  type        = string
}

variable "uploads_bucket_name" {
  description = "Bucket of the originals (SNAPQUEUE_UPLOADS_BUCKET)."
  type        = string
}

variable "processed_bucket_name" {
  description = "Bucket of the variants (SNAPQUEUE_PROCESSED_BUCKET)."
  type        = string
}

variable "logs_bucket_name" {
  description = "Bucket of the S3 server access logs and ALB access logs."
  type        = string
}

variable "upload_queue_name" {
  description = "SNAPQUEUE_UPLOAD_QUEUE."
  type        = string
}

variable "upload_dlq_name" {
  description = "SNAPQUEUE_UPLOAD_DLQ."
  type        = string
}

variable "images_table_name" {
  description = "SNAPQUEUE_IMAGES_TABLE."
  type        = string
}

variable "connections_table_name" {
  description = "SNAPQUEUE_CONNECTIONS_TABLE."
  type        = string
}

variable "gallery_index_name" {
  description = "SNAPQUEUE_GALLERY_INDEX."
  type        = string
}

variable "owner_index_name" {
  description = "SNAPQUEUE_OWNER_INDEX."
  type        = string
}

variable "usage_table_name" {
  description = "SNAPQUEUE_USAGE_TABLE."
  type        = string
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of both queues."
  type        = number
}

variable "queue_max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  type        = number
}

variable "queue_retention_seconds" {
  description = "Retention of the upload queue."
  type        = number
}

variable "stale_upload_expiration_days" {
  description = "Days after which uploads/ and imports/ objects expire."
  type        = number
}

variable "cors_origins" {
  description = "Origins the browser uploads from and reads variants from."
  type        = list(string)
}

variable "deletion_protection" {
  description = "Protect the tables from deletion."
  type        = bool
}
