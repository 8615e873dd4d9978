variable "name" {
  description = "Name prefix."
  type        = string
}

variable "frontend_bucket_name" {
  description = "Bucket of the SPA's static files."
  type        = string
}

variable "logs_bucket_name" {
  description = "Bucket of the S3 server access logs."
  type        = string
}

variable "api_domain_name" {
  description = "The ALB's DNS name covered by its certificate (origin of /api and /ws)."
  type        = string
}

variable "aliases" {
  description = "Custom domain names of the distribution."
  type        = list(string)
}

variable "certificate_arn" {
  description = "us-east-1 ACM certificate for the aliases; null for CloudFront's default certificate."
  type        = string
}
