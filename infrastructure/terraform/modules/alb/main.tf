# The ALB in front of the upload-service (/api/*, prefix stripped) and the notifier (/ws).
# Only CloudFront reaches it: the security group admits CloudFront's origin-facing addresses
# (of every distribution, not only ours, so the routing below is the boundary, not the CDN).
# The operations endpoints (/metrics, /readyz) are never forwarded: they are scraped inside
# the VPC, on the tasks' own ports.

locals {
  not_found = "{\"error\":\"not_found\",\"message\":\"no such route\"}"
}

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "ALB: HTTPS from CloudFront only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "HTTPS from CloudFront origin-facing servers"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [data.aws_ec2_managed_prefix_list.cloudfront.id]
  }

  egress {
    description = "To the service tasks"
    from_port   = min(var.upload_service_port, var.notifier_service_port)
    to_port     = max(var.upload_service_port, var.notifier_service_port)
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
}

resource "aws_lb" "main" {
  #checkov:skip=CKV2_AWS_28:The WAF web ACL is on the CloudFront distribution, the only client this ALB admits (security group: CloudFront origin-facing prefix list).
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.idle_timeout_seconds
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "upload_service" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; targets sit in private subnets that admit only the ALB security group, and the services speak plain HTTP inside the VPC.
  name                 = "${var.name}-upload"
  port                 = var.upload_service_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_target_group" "notifier_service" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; targets sit in private subnets that admit only the ALB security group, and the services speak plain HTTP inside the VPC.
  name        = "${var.name}-notifier"
  port        = var.notifier_service_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  # Sockets are closed with 1001 on SIGTERM; clients reconnect to another replica.
  deregistration_delay = 30

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.not_found
      status_code  = "404"
    }
  }
}

# Evaluated before every forward rule (lower priority number): the services' Prometheus
# metrics and readiness (which names the AWS dependencies that fail) stay inside the VPC.
# The bare paths too, in case a later rule forwards them without the /api prefix. Liveness
# (/api/healthz) stays public: it says only "ok".
resource "aws_lb_listener_rule" "internal_only" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 1

  condition {
    path_pattern {
      values = ["/api/metrics*", "/api/readyz*", "/metrics*", "/readyz*"]
    }
  }

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.not_found
      status_code  = "404"
    }
  }
}

# FastAPI's Swagger UI and ReDoc pages fetch /openapi.json from the site root, which the CDN
# serves from the SPA bucket, so behind the /api prefix they cannot work; they also load
# their scripts from a third-party CDN. The schema itself (/api/openapi.json) stays public.
resource "aws_lb_listener_rule" "no_api_docs_pages" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 2

  condition {
    path_pattern {
      values = ["/api/docs*", "/api/redoc*"]
    }
  }

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.not_found
      status_code  = "404"
    }
  }
}

# /api/upload-request -> /upload-request on the upload-service (as Vite and nginx do).
# Paths with a percent sign are not rewritten: the rules above match the path as sent,
# while the service decodes it, so /api/%6Detrics must not become /%6Detrics (= /metrics).
# Unrewritten, it reaches the service as /api/..., where no route exists (404). No public
# route needs a percent-escape: image ids are 32 hex characters.
resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/api/*"]
    }
  }

  transform {
    type = "url-rewrite"
    url_rewrite_config {
      rewrite {
        regex   = "^/api/([^%]*)$"
        replace = "/$1"
      }
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.upload_service.arn
  }
}

resource "aws_lb_listener_rule" "ws" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20

  condition {
    path_pattern {
      values = ["/ws"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.notifier_service.arn
  }
}

output "security_group_id" {
  description = "The ALB's security group (allowed into the web services)."
  value       = aws_security_group.alb.id
}

output "dns_name" {
  description = "The ALB's DNS name."
  value       = aws_lb.main.dns_name
}

output "upload_service_target_group_arn" {
  description = "Target group of the upload-service."
  value       = aws_lb_target_group.upload_service.arn
}

output "notifier_service_target_group_arn" {
  description = "Target group of the notifier-service."
  value       = aws_lb_target_group.notifier_service.arn
}
