data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.name_prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  cors_origins = concat(["https://${module.cdn.domain_name}"], [for alias in var.frontend_aliases : "https://${alias}"], var.extra_cors_origins)

  spa_origins = join(",", local.cors_origins)

  # The services' settings (snapqueue_core.settings.CoreSettings and subclasses). Endpoints are
  # AWS's own, so no AWS_ENDPOINT_URL*; presigned URLs use the regional S3 endpoint.
  common_environment = {
    AWS_REGION                                 = var.region
    SNAPQUEUE_UPLOADS_BUCKET                   = module.data.uploads_bucket_name
    SNAPQUEUE_PROCESSED_BUCKET                 = module.data.processed_bucket_name
    SNAPQUEUE_UPLOAD_QUEUE                     = module.data.upload_queue_name
    SNAPQUEUE_UPLOAD_DLQ                       = module.data.upload_dlq_name
    SNAPQUEUE_IMAGES_TABLE                     = module.data.images_table_name
    SNAPQUEUE_CONNECTIONS_TABLE                = module.data.connections_table_name
    SNAPQUEUE_GALLERY_INDEX                    = module.data.gallery_index_name
    SNAPQUEUE_NOTIFY_QUEUE_PREFIX              = var.notify_queue_prefix
    SNAPQUEUE_QUEUE_VISIBILITY_TIMEOUT_SECONDS = tostring(var.queue_visibility_timeout_seconds)
    SNAPQUEUE_QUEUE_MAX_RECEIVE_COUNT          = tostring(var.queue_max_receive_count)
    SNAPQUEUE_QUEUE_RETENTION_SECONDS          = tostring(var.queue_retention_seconds)
    SNAPQUEUE_LOG_LEVEL                        = var.log_level
    SNAPQUEUE_S3_ADDRESSING_STYLE              = "virtual"
    SNAPQUEUE_HTTP_HOST                        = "0.0.0.0"
  }

  # Token verification, for the two services that accept signed-in requests (the worker
  # serves no user). The SPA's client first; further clients of the same pool may be added.
  auth_environment = {
    SNAPQUEUE_AUTH_ISSUER     = module.auth.issuer
    SNAPQUEUE_AUTH_JWKS_URL   = module.auth.jwks_url
    SNAPQUEUE_AUTH_CLIENT_IDS = join(",", concat([module.auth.spa_client_id], var.extra_auth_client_ids))
  }
}

module "network" {
  source = "./modules/network"

  name                    = local.name
  region                  = var.region
  vpc_cidr                = var.vpc_cidr
  az_count                = var.az_count
  flow_log_retention_days = var.flow_log_retention_days
}

module "data" {
  source = "./modules/data"

  name                             = local.name
  uploads_bucket_name              = var.uploads_bucket_name
  processed_bucket_name            = var.processed_bucket_name
  logs_bucket_name                 = var.logs_bucket_name
  upload_queue_name                = var.upload_queue_name
  upload_dlq_name                  = var.upload_dlq_name
  images_table_name                = var.images_table_name
  connections_table_name           = var.connections_table_name
  gallery_index_name               = var.gallery_index_name
  owner_index_name                 = var.owner_index_name
  usage_table_name                 = var.usage_table_name
  queue_visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  queue_max_receive_count          = var.queue_max_receive_count
  queue_retention_seconds          = var.queue_retention_seconds
  stale_upload_expiration_days     = var.stale_upload_expiration_days
  cors_origins                     = local.cors_origins
  deletion_protection              = var.deletion_protection
}

module "auth" {
  source = "./modules/auth"

  name                          = local.name
  region                        = var.region
  deletion_protection           = var.deletion_protection
  mfa_configuration             = var.auth_mfa_configuration
  password_minimum_length       = var.auth_password_minimum_length
  access_token_validity_minutes = var.auth_access_token_validity_minutes
  id_token_validity_minutes     = var.auth_id_token_validity_minutes
  refresh_token_validity_days   = var.auth_refresh_token_validity_days
  email_source_arn              = var.auth_email_source_arn
  from_email_address            = var.auth_from_email_address
}

module "ecr" {
  source = "./modules/ecr"

  name_prefix  = var.name_prefix
  repositories = ["upload-service", "processing-worker", "notifier-service"]
}

module "alb" {
  source = "./modules/alb"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  vpc_cidr              = var.vpc_cidr
  public_subnet_ids     = module.network.public_subnet_ids
  certificate_arn       = var.alb_certificate_arn
  idle_timeout_seconds  = var.alb_idle_timeout_seconds
  deletion_protection   = var.deletion_protection
  access_logs_bucket    = module.data.logs_bucket_name
  upload_service_port   = 8000
  notifier_service_port = 8001
}

module "cdn" {
  source = "./modules/cdn"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name                 = local.name
  frontend_bucket_name = var.frontend_bucket_name
  logs_bucket_name     = module.data.logs_bucket_name
  api_domain_name      = var.api_domain_name
  aliases              = var.frontend_aliases
  certificate_arn      = var.frontend_certificate_arn
}

module "alarms" {
  source = "./modules/alarms"

  name                         = local.name
  upload_queue_name            = module.data.upload_queue_name
  upload_dlq_name              = module.data.upload_dlq_name
  oldest_message_alarm_seconds = var.oldest_message_alarm_seconds
  alarm_email                  = var.alarm_email
}

resource "aws_ecs_cluster" "main" {
  name = local.name

  # Container Insights also publishes RunningTaskCount, which the worker's scaling uses.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}
