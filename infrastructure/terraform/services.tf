# The three services, each from the generic ecs-service module.

locals {
  service_network = {
    cluster_arn             = aws_ecs_cluster.main.arn
    cluster_name            = aws_ecs_cluster.main.name
    vpc_id                  = module.network.vpc_id
    vpc_cidr                = var.vpc_cidr
    subnet_ids              = module.network.private_subnet_ids
    egress_prefix_list_ids  = module.network.gateway_endpoint_prefix_list_ids
    log_retention_days      = var.log_retention_days
    health_check_command    = ["CMD", "python", "/opt/snapqueue/healthcheck.py"]
    ingress_security_groups = [module.alb.security_group_id]
  }
}

module "upload_service" {
  source = "./modules/ecs-service"

  name                    = "${local.name}-upload-service"
  cluster_arn             = local.service_network.cluster_arn
  cluster_name            = local.service_network.cluster_name
  vpc_id                  = local.service_network.vpc_id
  vpc_cidr                = local.service_network.vpc_cidr
  subnet_ids              = local.service_network.subnet_ids
  egress_prefix_list_ids  = local.service_network.egress_prefix_list_ids
  log_retention_days      = local.service_network.log_retention_days
  health_check_command    = local.service_network.health_check_command
  ingress_security_groups = local.service_network.ingress_security_groups

  image              = "${module.ecr.repository_urls["upload-service"]}:${var.image_tag}"
  ecr_repository_arn = module.ecr.repository_arns["upload-service"]
  container_port     = 8000
  cpu                = var.upload_service.cpu
  memory             = var.upload_service.memory
  desired_count      = var.upload_service.desired_count
  min_count          = var.upload_service.min_count
  max_count          = var.upload_service.max_count
  cpu_target_percent = var.upload_service.cpu_target
  target_group_arn   = module.alb.upload_service_target_group_arn
  task_policy_json   = data.aws_iam_policy_document.upload_service.json
  stop_timeout       = 30

  # Sign-up, confirmation and sign-in go to Cognito's unauthenticated APIs (no IAM grant).
  # SNAPQUEUE_AUTH_AUTO_CONFIRM is for the embedded emulator only and is never set here:
  # on AWS every account confirms its e-mail address.
  environment = merge(local.common_environment, local.auth_environment, {
    SNAPQUEUE_HTTP_PORT               = "8000"
    SNAPQUEUE_CORS_ORIGINS            = local.spa_origins
    SNAPQUEUE_COGNITO_USER_POOL_ID    = module.auth.user_pool_id
    SNAPQUEUE_COGNITO_CLIENT_ID       = module.auth.spa_client_id
    SNAPQUEUE_USAGE_TABLE             = module.data.usage_table_name
    SNAPQUEUE_OWNER_INDEX             = module.data.owner_index_name
    SNAPQUEUE_USER_UPLOADS_PER_MINUTE = tostring(var.user_uploads_per_minute)
    SNAPQUEUE_USER_MAX_BYTES          = tostring(var.user_max_bytes)
  })
}

module "notifier_service" {
  source = "./modules/ecs-service"

  name                    = "${local.name}-notifier-service"
  cluster_arn             = local.service_network.cluster_arn
  cluster_name            = local.service_network.cluster_name
  vpc_id                  = local.service_network.vpc_id
  vpc_cidr                = local.service_network.vpc_cidr
  subnet_ids              = local.service_network.subnet_ids
  egress_prefix_list_ids  = local.service_network.egress_prefix_list_ids
  log_retention_days      = local.service_network.log_retention_days
  health_check_command    = local.service_network.health_check_command
  ingress_security_groups = local.service_network.ingress_security_groups

  image              = "${module.ecr.repository_urls["notifier-service"]}:${var.image_tag}"
  ecr_repository_arn = module.ecr.repository_arns["notifier-service"]
  container_port     = 8001
  cpu                = var.notifier_service.cpu
  memory             = var.notifier_service.memory
  desired_count      = var.notifier_service.desired_count
  min_count          = var.notifier_service.min_count
  max_count          = var.notifier_service.max_count
  cpu_target_percent = var.notifier_service.cpu_target
  target_group_arn   = module.alb.notifier_service_target_group_arn
  task_policy_json   = data.aws_iam_policy_document.notifier_service.json
  # Sockets close with 1001 and the replica's queue is deleted before the task stops.
  stop_timeout = 30

  environment = merge(local.common_environment, local.auth_environment, {
    SNAPQUEUE_HTTP_PORT       = "8001"
    SNAPQUEUE_ALLOWED_ORIGINS = local.spa_origins
  })
}

module "processing_worker" {
  source = "./modules/ecs-service"

  name                    = "${local.name}-processing-worker"
  cluster_arn             = local.service_network.cluster_arn
  cluster_name            = local.service_network.cluster_name
  vpc_id                  = local.service_network.vpc_id
  vpc_cidr                = local.service_network.vpc_cidr
  subnet_ids              = local.service_network.subnet_ids
  egress_prefix_list_ids  = local.service_network.egress_prefix_list_ids
  log_retention_days      = local.service_network.log_retention_days
  health_check_command    = local.service_network.health_check_command
  ingress_security_groups = []

  image              = "${module.ecr.repository_urls["processing-worker"]}:${var.image_tag}"
  ecr_repository_arn = module.ecr.repository_arns["processing-worker"]
  container_port     = 8002
  cpu                = var.processing_worker.cpu
  memory             = var.processing_worker.memory
  desired_count      = var.processing_worker.desired_count
  min_count          = var.processing_worker.min_count
  max_count          = var.processing_worker.max_count
  task_policy_json   = data.aws_iam_policy_document.processing_worker.json
  # Above the worker's shutdown_grace_seconds (25 s): in-flight jobs finish before SIGKILL.
  stop_timeout = 30

  backlog_scaling = {
    queue_name      = module.data.upload_queue_name
    target_per_task = var.processing_worker.backlog_per_task_target
  }

  environment = merge(local.common_environment, {
    SNAPQUEUE_HTTP_PORT      = "8002"
    SNAPQUEUE_CONCURRENCY    = tostring(var.processing_worker.concurrency)
    SNAPQUEUE_JOBS_IN_FLIGHT = tostring(var.processing_worker.jobs_in_flight)
  })
}
