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

variable "owner_index_name" {
  description = "SNAPQUEUE_OWNER_INDEX: the GSI of one owner's images by uploadTimestamp (\"my images\")."
  type        = string
  default     = "owner-index"
}

variable "usage_table_name" {
  description = "SNAPQUEUE_USAGE_TABLE: per-user counters for the upload rate limit and byte quota."
  type        = string
  default     = "UsageCounters"
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
  description = "Protect the ALB, the tables and the Cognito user pool from deletion (prod)."
  type        = bool
  default     = true
}

variable "extra_cors_origins" {
  description = "Origins allowed besides the CloudFront distribution's own (SNAPQUEUE_CORS_ORIGINS)."
  type        = list(string)
  default     = []
}

# --- accounts (Cognito) ---

variable "auth_mfa_configuration" {
  description = "MFA of the user pool: OFF, OPTIONAL (users may add a TOTP app) or ON (every sign-in needs TOTP; the sign-in API must then answer Cognito's MFA challenges)."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "OPTIONAL", "ON"], var.auth_mfa_configuration)
    error_message = "auth_mfa_configuration must be OFF, OPTIONAL or ON."
  }
}

variable "auth_password_minimum_length" {
  description = "Minimum password length; upper case, lower case, a digit and a symbol are always required."
  type        = number
  default     = 12

  validation {
    condition     = var.auth_password_minimum_length >= 12 && var.auth_password_minimum_length <= 99 && floor(var.auth_password_minimum_length) == var.auth_password_minimum_length
    error_message = "auth_password_minimum_length must be a whole number from 12 to 99 (Cognito's maximum)."
  }
}

variable "auth_access_token_validity_minutes" {
  description = "Lifetime of access tokens, which the services accept until they expire (sign-out revokes refresh tokens only)."
  type        = number
  default     = 60

  validation {
    condition     = var.auth_access_token_validity_minutes >= 5 && var.auth_access_token_validity_minutes <= 1440 && floor(var.auth_access_token_validity_minutes) == var.auth_access_token_validity_minutes
    error_message = "auth_access_token_validity_minutes must be a whole number from 5 to 1440 (Cognito's limits)."
  }
}

variable "auth_id_token_validity_minutes" {
  description = "Lifetime of ID tokens."
  type        = number
  default     = 60

  validation {
    condition     = var.auth_id_token_validity_minutes >= 5 && var.auth_id_token_validity_minutes <= 1440 && floor(var.auth_id_token_validity_minutes) == var.auth_id_token_validity_minutes
    error_message = "auth_id_token_validity_minutes must be a whole number from 5 to 1440 (Cognito's limits)."
  }
}

variable "auth_refresh_token_validity_days" {
  description = "Lifetime of refresh tokens: how long a session lasts without entering the password again."
  type        = number
  default     = 30

  validation {
    condition     = var.auth_refresh_token_validity_days >= 1 && var.auth_refresh_token_validity_days <= 3650 && floor(var.auth_refresh_token_validity_days) == var.auth_refresh_token_validity_days
    error_message = "auth_refresh_token_validity_days must be a whole number from 1 to 3650 (Cognito's limits)."
  }
}

variable "extra_auth_client_ids" {
  description = "Further app clients (of this pool) whose tokens the services accept, besides the SPA's (SNAPQUEUE_AUTH_CLIENT_IDS is the comma-separated list)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.extra_auth_client_ids : can(regex("^[A-Za-z0-9]{1,128}$", id))])
    error_message = "extra_auth_client_ids must be Cognito app client ids (letters and digits, no commas)."
  }
}

variable "auth_email_source_arn" {
  description = "ARN of a verified SES identity Cognito sends its e-mails from (its identity policy must allow email.cognito-idp.amazonaws.com). null: Cognito's own sender, limited to about 50 e-mails a day."
  type        = string
  default     = null
}

variable "auth_from_email_address" {
  description = "From address of Cognito's e-mails with auth_email_source_arn, e.g. \"SnapQueue <no-reply@example.com>\"."
  type        = string
  default     = null

  validation {
    condition     = var.auth_email_source_arn == null || var.auth_from_email_address != null
    error_message = "Set auth_from_email_address together with auth_email_source_arn."
  }
}

variable "user_uploads_per_minute" {
  description = "SNAPQUEUE_USER_UPLOADS_PER_MINUTE: uploads one signed-in user may start per minute."
  type        = number
  default     = 60

  validation {
    condition     = var.user_uploads_per_minute >= 1 && floor(var.user_uploads_per_minute) == var.user_uploads_per_minute
    error_message = "user_uploads_per_minute must be a whole number of at least 1."
  }
}

variable "user_max_bytes" {
  description = "SNAPQUEUE_USER_MAX_BYTES: total bytes of originals one user may store (default 5 GiB)."
  type        = number
  default     = 5368709120

  validation {
    condition     = var.user_max_bytes >= 1 && floor(var.user_max_bytes) == var.user_max_bytes
    error_message = "user_max_bytes must be a whole number of at least 1."
  }
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
