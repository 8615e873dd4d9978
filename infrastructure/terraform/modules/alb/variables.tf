variable "name" {
  description = "Name prefix."
  type        = string
}

variable "vpc_id" {
  description = "VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR (targets live there)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the ALB."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  type        = string
}

variable "idle_timeout_seconds" {
  description = "Idle timeout; WebSockets stay open between the notifier's pings."
  type        = number
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
}

variable "access_logs_bucket" {
  description = "Bucket of the access logs (prefix alb/)."
  type        = string
}

variable "upload_service_port" {
  description = "upload-service container port."
  type        = number
}

variable "notifier_service_port" {
  description = "notifier-service container port."
  type        = number
}
