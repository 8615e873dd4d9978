output "user_pool_id" {
  description = "SNAPQUEUE_COGNITO_USER_POOL_ID."
  value       = aws_cognito_user_pool.main.id
}

output "user_pool_arn" {
  description = "ARN of the user pool."
  value       = aws_cognito_user_pool.main.arn
}

output "spa_client_id" {
  description = "SNAPQUEUE_COGNITO_CLIENT_ID: the SPA's public app client."
  value       = aws_cognito_user_pool_client.spa.id
}

output "issuer" {
  description = "SNAPQUEUE_AUTH_ISSUER: the `iss` of the pool's tokens."
  value       = local.issuer
}

output "jwks_url" {
  description = "SNAPQUEUE_AUTH_JWKS_URL: the pool's token-signing keys."
  value       = "${local.issuer}/.well-known/jwks.json"
}

output "admin_group_name" {
  description = "The administrators' group."
  value       = aws_cognito_user_group.admins.name
}
