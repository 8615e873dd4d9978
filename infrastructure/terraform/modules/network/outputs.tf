output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.main.id
}

output "public_subnet_ids" {
  description = "Public subnets (the ALB)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (the tasks)."
  value       = aws_subnet.private[*].id
}

output "gateway_endpoint_prefix_list_ids" {
  description = "Prefix lists of the S3 and DynamoDB gateway endpoints, for task egress rules."
  value       = [aws_vpc_endpoint.s3.prefix_list_id, aws_vpc_endpoint.dynamodb.prefix_list_id]
}
