output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.service.name
}

output "task_role_arn" {
  description = "The application's role."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ECS's role for pulling and logging."
  value       = aws_iam_role.execution.arn
}

output "security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.service.id
}

output "log_group_name" {
  description = "CloudWatch log group."
  value       = aws_cloudwatch_log_group.service.name
}
