# terraform plan -var-file=vars/prod.tfvars --out=.tfplan
environment = "prod"
region      = "eu-west-1"

# Globally unique bucket names: replace the account id with yours.
uploads_bucket_name   = "snapqueue-prod-uploads-222222222222"
processed_bucket_name = "snapqueue-prod-processed-222222222222"
frontend_bucket_name  = "snapqueue-prod-frontend-222222222222"
logs_bucket_name      = "snapqueue-prod-logs-222222222222"

api_domain_name     = "api.snapqueue.example.com"
alb_certificate_arn = "arn:aws:acm:eu-west-1:222222222222:certificate/00000000-0000-0000-0000-000000000000"

image_tag = "latest-prod"

deletion_protection = true
alarm_email         = "oncall@snapqueue.example.com"

# Cognito sends sign-up codes with its own sender (about 50 e-mails a day) unless these name
# a verified SES identity that allows email.cognito-idp.amazonaws.com:
# auth_email_source_arn   = "arn:aws:ses:eu-west-1:222222222222:identity/snapqueue.example.com"
# auth_from_email_address = "SnapQueue <no-reply@snapqueue.example.com>"
