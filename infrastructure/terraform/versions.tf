terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.19 added the ALB listener-rule `transform` (url-rewrite) used to strip /api.
      version = ">= 6.19.0, < 7.0.0"
    }
  }

  # Partial configuration: `terraform init -backend-config config/<env>` supplies the rest.
  backend "s3" {}
}
