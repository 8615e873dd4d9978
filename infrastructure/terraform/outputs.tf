output "frontend_url" {
  description = "The SPA (and /api, /ws) through CloudFront."
  value       = "https://${module.cdn.domain_name}"
}

output "frontend_bucket" {
  description = "Upload the built SPA here (aws s3 sync frontend/dist s3://...)."
  value       = module.cdn.bucket_name
}

output "cloudfront_distribution_id" {
  description = "Invalidate after publishing the SPA."
  value       = module.cdn.distribution_id
}

output "alb_dns_name" {
  description = "Point var.api_domain_name (CNAME or alias) at this."
  value       = module.alb.dns_name
}

output "ecr_repository_urls" {
  description = "Where CI pushes the service images."
  value       = module.ecr.repository_urls
}

output "ecs_cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "auth_user_pool_id" {
  description = "The Cognito user pool (for aws cognito-idp admin-add-user-to-group and other operator commands)."
  value       = module.auth.user_pool_id
}

output "auth_client_id" {
  description = "The SPA's app client id (SNAPQUEUE_COGNITO_CLIENT_ID)."
  value       = module.auth.spa_client_id
}

output "auth_issuer" {
  description = "Issuer of the pool's tokens (SNAPQUEUE_AUTH_ISSUER)."
  value       = module.auth.issuer
}

output "auth_jwks_url" {
  description = "The pool's signing keys (SNAPQUEUE_AUTH_JWKS_URL)."
  value       = module.auth.jwks_url
}

output "alarm_topic_arn" {
  description = "SNS topic of the DLQ and queue-age alarms."
  value       = module.alarms.topic_arn
}

output "service_environment" {
  description = "The settings every service receives (for running snapqueue-bootstrap or a one-off task)."
  value       = local.common_environment
}
