# terraform plan -var-file=vars/dev.tfvars --out=.tfplan
environment = "dev"
region      = "eu-west-1"

# Globally unique bucket names: replace the account id with yours.
uploads_bucket_name   = "snapqueue-dev-uploads-111111111111"
processed_bucket_name = "snapqueue-dev-processed-111111111111"
frontend_bucket_name  = "snapqueue-dev-frontend-111111111111"
logs_bucket_name      = "snapqueue-dev-logs-111111111111"

# A DNS name pointing at the ALB (output alb_dns_name) and its certificate in eu-west-1.
api_domain_name     = "api.dev.snapqueue.example.com"
alb_certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"

# CI passes -var image_tag=<commit sha>; this is only the fallback.
image_tag = "latest-dev"

deletion_protection     = false
log_retention_days      = 30
flow_log_retention_days = 30
extra_cors_origins      = ["http://localhost:8080"]

upload_service = {
  cpu           = 256
  memory        = 512
  min_count     = 1
  max_count     = 2
  cpu_target    = 70
  desired_count = 1
}

notifier_service = {
  cpu           = 256
  memory        = 512
  min_count     = 1
  max_count     = 2
  cpu_target    = 70
  desired_count = 1
}

processing_worker = {
  cpu                     = 1024
  memory                  = 2048
  min_count               = 1
  max_count               = 3
  backlog_per_task_target = 20
  desired_count           = 1
  concurrency             = 2
}
