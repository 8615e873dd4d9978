terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = ">= 6.19.0, < 7.0.0"
      configuration_aliases = [aws.us_east_1]
    }
  }
}
