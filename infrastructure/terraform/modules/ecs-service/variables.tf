variable "name" {
  description = "Service name (also the container, log group and role names)."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster ARN."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster name (autoscaling resource id, metric dimension)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR: the interface endpoints the tasks call live there."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "egress_prefix_list_ids" {
  description = "Prefix lists of the S3 and DynamoDB gateway endpoints."
  type        = list(string)
}

variable "ingress_security_groups" {
  description = "Security groups (the ALB) allowed to reach container_port; empty for none."
  type        = list(string)
  default     = []
}

variable "image" {
  description = "Container image (ECR URL and tag)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "Repository the execution role may pull from."
  type        = string
}

variable "container_port" {
  description = "SNAPQUEUE_HTTP_PORT: health, metrics and (for web services) traffic."
  type        = number
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
}

variable "environment" {
  description = "Container environment (settings)."
  type        = map(string)
}

variable "health_check_command" {
  description = "Container health check command."
  type        = list(string)
}

variable "task_policy_json" {
  description = "The task role's only policy: exactly what the service calls."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the log group."
  type        = number
}

variable "desired_count" {
  description = "Initial task count; autoscaling owns it afterwards."
  type        = number
}

variable "min_count" {
  description = "Autoscaling minimum."
  type        = number
}

variable "max_count" {
  description = "Autoscaling maximum."
  type        = number
}

variable "cpu_target_percent" {
  description = "Target-track average CPU at this percentage; null for none."
  type        = number
  default     = null
}

variable "backlog_scaling" {
  description = "Target-track visible messages per running task on this queue; null for none."
  type = object({
    queue_name      = string
    target_per_task = number
  })
  default = null
}

variable "target_group_arn" {
  description = "ALB target group; null for a service without a load balancer."
  type        = string
  default     = null
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL (Fargate allows up to 120)."
  type        = number
  default     = 30
}
