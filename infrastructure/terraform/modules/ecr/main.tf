# One private repository per service: immutable tags (CI pushes the commit SHA), scanned on
# push, KMS-encrypted, old images expired.

variable "name_prefix" {
  description = "Repositories are named <name_prefix>/<service>."
  type        = string
}

variable "repositories" {
  description = "Service names."
  type        = list(string)
}

variable "keep_images" {
  description = "Images kept per repository."
  type        = number
  default     = 30
}

resource "aws_ecr_repository" "service" {
  for_each = toset(var.repositories)

  name                 = "${var.name_prefix}/${each.value}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "service" {
  for_each = aws_ecr_repository.service

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.keep_images
      }
      action = { type = "expire" }
    }]
  })
}

output "repository_urls" {
  description = "Service name -> repository URL."
  value       = { for name, repo in aws_ecr_repository.service : name => repo.repository_url }
}

output "repository_arns" {
  description = "Service name -> repository ARN."
  value       = { for name, repo in aws_ecr_repository.service : name => repo.arn }
}
