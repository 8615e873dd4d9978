provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "snapqueue"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

# CloudFront's WAF web ACLs live in us-east-1 whatever the stack's region.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      Project     = "snapqueue"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
