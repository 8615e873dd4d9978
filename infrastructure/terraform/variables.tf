variable "environment" {
  description = "Deployment name: dev or prod (used in resource names and tags)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the names of the stack's own resources (cluster, ALB, roles, ...)."
  type        = string
  default     = "snapqueue"
}

# --- network ---

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread subnets and tasks over."
  type        = number
  default     = 2
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
  default     = 365
}

# --- resource names: the same settings the services read (snapqueue_core.settings) ---

variable "uploads_bucket_name" {
  description = "SNAPQUEUE_UPLOADS_BUCKET: originals uploaded by browsers (globally unique)."
  type        = string
}

variable "processed_bucket_name" {
  description = "SNAPQUEUE_PROCESSED_BUCKET: the variants (globally unique)."
  type        = string
}

variable "frontend_bucket_name" {
  description = "The SPA's static files behind CloudFront (globally unique)."
  type        = string
}

variable "logs_bucket_name" {
  description = "S3 server access logs and ALB access logs (globally unique)."
  type        = string
}

variable "upload_queue_name" {
  description = "SNAPQUEUE_UPLOAD_QUEUE: S3 upload events for the worker."
  type        = string
  default     = "snapqueue-upload-events"
}

variable "upload_dlq_name" {
  description = "SNAPQUEUE_UPLOAD_DLQ: the upload queue's dead-letter queue."
  type        = string
  default     = "snapqueue-upload-events-dlq"
}

variable "images_table_name" {
  description = "SNAPQUEUE_IMAGES_TABLE."
  type        = string
  default     = "ImageMetadata"
}

variable "connections_table_name" {
  description = "SNAPQUEUE_CONNECTIONS_TABLE."
  type        = string
  default     = "WebSocketConnections"
}

variable "gallery_index_name" {
  description = "SNAPQUEUE_GALLERY_INDEX: the sparse GSI of COMPLETED images, newest first."
  type        = string
  default     = "gallery-index"
}

variable "notify_queue_prefix" {
  description = "SNAPQUEUE_NOTIFY_QUEUE_PREFIX: notifier replicas create <prefix><replica> queues at run time."
  type        = string
  default     = "snapqueue-notify-"
}

# --- queue behaviour (core settings of the same names) ---

variable "queue_visibility_timeout_seconds" {
  description = "SNAPQUEUE_QUEUE_VISIBILITY_TIMEOUT_SECONDS: at least twice the worker's heartbeat (15 s); the worker extends it while a job runs."
  type        = number
  default     = 60
}

variable "queue_max_receive_count" {
  description = "SNAPQUEUE_QUEUE_MAX_RECEIVE_COUNT: receives before a message moves to the DLQ."
  type        = number
  default     = 5
}

variable "queue_retention_seconds" {
  description = "SNAPQUEUE_QUEUE_RETENTION_SECONDS of the upload queue (the DLQ keeps 14 days)."
  type        = number
  default     = 345600
}

variable "stale_upload_expiration_days" {
  description = "Objects under uploads/ and imports/ expire after this many days (records of abandoned uploads expire after 24 h)."
  type        = number
  default     = 2
}

# --- edge ---

variable "api_domain_name" {
  description = "DNS name that points at the ALB and is covered by alb_certificate_arn; CloudFront reaches /api and /ws there over HTTPS."
  type        = string
}

variable "alb_certificate_arn" {
  description = "ACM certificate (in var.region) for the ALB's HTTPS listener."
  type        = string
}

variable "frontend_aliases" {
  description = "Optional custom domain names of the CloudFront distribution."
  type        = list(string)
  default     = []
}

variable "frontend_certificate_arn" {
  description = "ACM certificate in us-east-1 for frontend_aliases; null uses CloudFront's default certificate."
  type        = string
  default     = null
}

variable "alb_idle_timeout_seconds" {
  description = "ALB idle timeout: long enough for idle WebSockets between the notifier's pings."
  type        = number
  default     = 900
}

variable "deletion_protection" {
  description = "Protect the ALB and the tables from deletion (prod)."
  type        = bool
  default     = true
}

variable "extra_cors_origins" {
  description = "Origins allowed besides the CloudFront distribution's own (SNAPQUEUE_CORS_ORIGINS)."
  type        = list(string)
  default     = []
}

# --- services ---

variable "image_tag" {
  description = "Tag of the three service images in ECR (CI pushes the commit SHA)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the services' CloudWatch log groups."
  type        = number
  default     = 365
}

variable "log_level" {
  description = "SNAPQUEUE_LOG_LEVEL."
  type        = string
  default     = "INFO"
}

variable "upload_service" {
  description = "Size and scaling of the upload-service."
  type = object({
    cpu           = number
    memory        = number
    min_count     = number
    max_count     = number
    cpu_target    = number
    desired_count = number
  })
  default = {
    cpu           = 512
    memory        = 1024
    min_count     = 2
    max_count     = 10
    cpu_target    = 60
    desired_count = 2
  }
}

variable "notifier_service" {
  description = "Size and scaling of the notifier-service."
  type = object({
    cpu           = number
    memory        = number
    min_count     = number
    max_count     = number
    cpu_target    = number
    desired_count = number
  })
  default = {
    cpu           = 256
    memory        = 512
    min_count     = 2
    max_count     = 10
    cpu_target    = 60
    desired_count = 2
  }
}

variable "processing_worker" {
  description = "Size and scaling of the processing-worker: scaled on queue backlog per task."
  type = object({
    cpu                     = number
    memory                  = number
    min_count               = number
    max_count               = number
    backlog_per_task_target = number
    desired_count           = number
    concurrency             = number
    jobs_in_flight          = number
  })
  # concurrency: Pillow threads, one per vCPU (cpu / 1024). jobs_in_flight: messages held
  # at once, four per thread, so downloads and uploads overlap the transforms.
  default = {
    cpu                     = 1024
    memory                  = 2048
    min_count               = 1
    max_count               = 20
    backlog_per_task_target = 20
    desired_count           = 1
    concurrency             = 1
    jobs_in_flight          = 4
  }
}

# --- alarms ---

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic."
  type        = string
  default     = null
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest upload event waits longer than this."
  type        = number
  default     = 300
}
