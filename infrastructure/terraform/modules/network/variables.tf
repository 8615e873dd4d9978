variable "name" {
  description = "Name prefix of the network's resources."
  type        = string
}

variable "region" {
  description = "Region of the VPC endpoints' service names."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones (one public and one private subnet each)."
  type        = number
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
}
