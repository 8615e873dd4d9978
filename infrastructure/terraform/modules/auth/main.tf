# Accounts: one Cognito user pool (e-mail as the username, self sign-up with an e-mailed
# code), the SPA's app client and the `admins` group. The upload-service calls SignUp,
# ConfirmSignUp and InitiateAuth (USER_PASSWORD_AUTH) on the user's behalf; both web
# services verify the tokens against the pool's JWKS. No hosted UI and no domain: a pool
# with a domain cannot be reached through the cognito-idp VPC endpoint the tasks use.

locals {
  # The pool's OIDC issuer: the `iss` claim of every token it signs.
  issuer = "https://cognito-idp.${var.region}.amazonaws.com/${aws_cognito_user_pool.main.id}"

  # OPTIONAL and ON need a second factor the pool can offer; TOTP needs no SMS role.
  mfa_enabled = var.mfa_configuration != "OFF"

  # Cognito's own sender allows about 50 e-mails a day: set a verified SES identity for
  # real sign-up traffic.
  ses_email = var.email_source_arn != null
}

resource "aws_cognito_user_pool" "main" {
  name = var.name

  # Users sign in with their e-mail address, which Cognito verifies with a code at sign-up.
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  # Alice@example.com and alice@example.com are one account.
  username_configuration {
    case_sensitive = false
  }

  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  password_policy {
    minimum_length                   = var.password_minimum_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 7
  }

  # Forgotten passwords are reset through the verified e-mail address only (no SMS).
  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  # Self sign-up: the upload-service's /auth/sign-up calls SignUp for anyone.
  admin_create_user_config {
    allow_admin_create_user_only = false
  }

  # ConfirmSignUp takes the code from this message.
  verification_message_template {
    default_email_option = "CONFIRM_WITH_CODE"
  }

  # A changed address takes effect only once its code is confirmed, so an account is never
  # left with an unverified (possibly someone else's) recovery address.
  user_attribute_update_settings {
    attributes_require_verification_before_update = ["email"]
  }

  mfa_configuration = var.mfa_configuration

  dynamic "software_token_mfa_configuration" {
    for_each = local.mfa_enabled ? [1] : []
    content {
      enabled = true
    }
  }

  email_configuration {
    email_sending_account = local.ses_email ? "DEVELOPER" : "COGNITO_DEFAULT"
    source_arn            = var.email_source_arn
    from_email_address    = local.ses_email ? var.from_email_address : null
  }
}

# The SPA's client. Public (no secret): the browser and the upload-service acting for it
# cannot keep one. Only password sign-in and refresh; SRP, custom and admin flows stay off.
resource "aws_cognito_user_pool_client" "spa" {
  name         = "${var.name}-spa"
  user_pool_id = aws_cognito_user_pool.main.id

  generate_secret     = false
  explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

  # Sign-in and password reset answer the same for unknown and known addresses.
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.id_token_validity_minutes
  refresh_token_validity = var.refresh_token_validity_days
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  # The client reads the address and may change it (with re-verification); nothing else.
  read_attributes  = ["email", "email_verified"]
  write_attributes = ["email"]
}

# Members get `cognito:groups: ["admins"]` in their tokens; the services decide what that
# allows. Membership is granted by an operator (docs/deploy.md), never by the app.
resource "aws_cognito_user_group" "admins" {
  name         = "admins"
  user_pool_id = aws_cognito_user_pool.main.id
  description  = "SnapQueue administrators"
  precedence   = 0
}
