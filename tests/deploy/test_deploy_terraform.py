"""The Terraform: formatted, parseable, checkov-clean, least-privilege, and describing the same
resources as the bootstrap (``snapqueue_core.resources.declare``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote as percent_decode

import pytest
from deploy_hcl import (
    TERRAFORM,
    Environment,
    blocks,
    load,
    module_calls,
    raw_comments,
    tf_files,
    unquote,
    variables,
)

from snapqueue_core.resources import Resources, declare
from snapqueue_core.settings import CoreSettings

ROOT = TERRAFORM.parents[1]
DATA = TERRAFORM / "modules" / "data"
ALB = TERRAFORM / "modules" / "alb"
CDN = TERRAFORM / "modules" / "cdn"
AUTH = TERRAFORM / "modules" / "auth"
ENVIRONMENTS = ["dev", "prod"]


def declared(env: Environment) -> Resources:
    """What the bootstrap would create with the settings the ECS tasks receive."""
    values = env.values
    settings = CoreSettings(
        aws_region=values["region"],
        uploads_bucket=values["uploads_bucket_name"],
        processed_bucket=values["processed_bucket_name"],
        upload_queue=values["upload_queue_name"],
        upload_dlq=values["upload_dlq_name"],
        images_table=values["images_table_name"],
        connections_table=values["connections_table_name"],
        gallery_index=values["gallery_index_name"],
        # CoreSettings ignores unknown fields: these take effect once the core declares the
        # owner index and the usage table.
        owner_index=values["owner_index_name"],
        usage_table=values["usage_table_name"],
        notify_queue_prefix=values["notify_queue_prefix"],
        queue_visibility_timeout_seconds=values["queue_visibility_timeout_seconds"],
        queue_max_receive_count=values["queue_max_receive_count"],
        queue_retention_seconds=values["queue_retention_seconds"],
    )
    return declare(settings)


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed on this machine")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff"],
        cwd=TERRAFORM,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_parses() -> None:
    files = tf_files() + sorted((TERRAFORM / "vars").glob("*.tfvars"))
    assert len(files) >= 15
    for path in files:
        assert isinstance(load(path), dict), path
    for env in ENVIRONMENTS:
        assert (TERRAFORM / "config" / env).is_file()


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_tables_match_the_bootstrap(env_name: str) -> None:
    env = Environment.from_tfvars(env_name)
    tables = {
        env.in_module("data", body["name"]): unquote(body)
        for (rtype, _), body in blocks(DATA, "resource").items()
        if rtype == "aws_dynamodb_table"
    }
    expected = declared(env).tables
    assert set(tables) == {t.name for t in expected}
    for spec in expected:
        table = tables[spec.name]
        types = {a["name"]: a["type"] for a in table["attribute"]}
        assert table["hash_key"] == spec.hash_key.name
        assert types[spec.hash_key.name] == spec.hash_key.type
        assert table.get("range_key") == (spec.range_key.name if spec.range_key else None)
        if spec.range_key:
            assert types[spec.range_key.name] == spec.range_key.type
        assert table["billing_mode"] == "PAY_PER_REQUEST"
        assert table["ttl"] == [{"attribute_name": spec.ttl_attribute, "enabled": True}]
        assert table["point_in_time_recovery"] == [{"enabled": True}]
        indexes = {
            env.in_module("data", index["name"]): index
            for index in table.get("global_secondary_index", [])
        }
        assert set(indexes) == {i.name for i in spec.indexes}, spec.name
        for index_spec in spec.indexes:
            index = indexes[index_spec.name]
            assert index["hash_key"] == index_spec.hash_key.name
            assert index["range_key"] == index_spec.range_key.name
            assert index["projection_type"] == "ALL"
            assert types[index_spec.hash_key.name] == index_spec.hash_key.type
            assert types[index_spec.range_key.name] == index_spec.range_key.type
        # Key attributes only: DynamoDB rejects unused attribute definitions.
        keys = {spec.hash_key.name} | ({spec.range_key.name} if spec.range_key else set())
        for index_spec in spec.indexes:
            keys |= {index_spec.hash_key.name, index_spec.range_key.name}
        assert set(types) == keys


def _redrive(expression: str) -> dict[str, str]:
    pairs = re.findall(r"(\w+)\s*=\s*([\w.]+)", expression)
    return dict(pairs)


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_queues_match_the_bootstrap(env_name: str) -> None:
    env = Environment.from_tfvars(env_name)
    resources = blocks(DATA, "resource")
    queues = {
        env.in_module("data", body["name"]): (name, unquote(body))
        for (rtype, name), body in resources.items()
        if rtype == "aws_sqs_queue"
    }
    by_resource = {name: queue_name for queue_name, (name, _) in queues.items()}
    expected = declared(env).queues
    assert set(queues) == {q.name for q in expected}
    for spec in expected:
        _, queue = queues[spec.name]
        assert env.in_module("data", queue["visibility_timeout_seconds"]) == spec.visibility_timeout
        assert env.in_module("data", queue["message_retention_seconds"]) == spec.retention_seconds
        assert queue["receive_wait_time_seconds"] == spec.receive_wait_seconds
        assert queue["sqs_managed_sse_enabled"] is True
        if spec.dead_letter is None:
            assert "redrive_policy" not in queue
            continue
        redrive = _redrive(queue["redrive_policy"])
        target = redrive["deadLetterTargetArn"].split(".")
        assert target[0] == "aws_sqs_queue"
        assert target[2] == "arn"
        assert by_resource[target[1]] == spec.dead_letter
        count = env.in_module("data", "${" + redrive["maxReceiveCount"] + "}")
        assert count == spec.max_receive_count
    # The worker's heartbeat (every 15 s by default) must fit twice in the visibility timeout.
    assert env.values["queue_visibility_timeout_seconds"] >= 30


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_buckets_and_notifications_match_the_bootstrap(env_name: str) -> None:
    env = Environment.from_tfvars(env_name)
    resources = blocks(DATA, "resource")
    buckets = {
        name: env.in_module("data", body["bucket"])
        for (rtype, name), body in resources.items()
        if rtype == "aws_s3_bucket"
    }
    queue_names = {
        name: env.in_module("data", body["name"])
        for (rtype, name), body in resources.items()
        if rtype == "aws_sqs_queue"
    }
    expected = {b.name: b for b in declared(env).buckets}
    assert set(expected) <= set(buckets.values())

    cors = unquote(resources[("aws_s3_bucket_cors_configuration", "app")])
    cors_buckets = set(re.findall(r"aws_s3_bucket\.(\w+)\.id", json.dumps(cors["for_each"])))
    notifications = [
        unquote(body)
        for (rtype, _), body in resources.items()
        if rtype == "aws_s3_bucket_notification"
    ]
    for spec in expected.values():
        resource_name = next(n for n, b in buckets.items() if b == spec.name)
        assert (resource_name in cors_buckets) == bool(spec.cors_origins)
        configured = [
            n for n in notifications if n["bucket"] == f"${{aws_s3_bucket.{resource_name}.id}}"
        ]
        if not spec.notify:
            assert configured == []
            continue
        assert len(configured) == 1
        got = set()
        for queue in configured[0]["queue"]:
            assert queue["events"] == ["s3:ObjectCreated:*"]
            queue_resource = re.fullmatch(r"\$\{aws_sqs_queue\.(\w+)\.arn\}", queue["queue_arn"])
            assert queue_resource, queue["queue_arn"]
            got.add((queue["filter_prefix"], queue_names[queue_resource.group(1)]))
        assert got == set(spec.notify)

    # S3 may send to the queue only from the uploads bucket (the bootstrap's queue policy).
    policy = unquote(blocks(DATA, "data")[("aws_iam_policy_document", "upload_events")])
    (statement,) = policy["statement"]
    assert statement["actions"] == ["sqs:SendMessage"]
    assert statement["principals"][0]["identifiers"] == ["s3.amazonaws.com"]
    conditions = {c["variable"]: c["values"] for c in statement["condition"]}
    assert conditions["aws:SourceArn"] == ["${aws_s3_bucket.uploads.arn}"]


def _policy_documents() -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for directory in [TERRAFORM, *sorted((TERRAFORM / "modules").iterdir())]:
        for (rtype, name), body in blocks(directory, "data").items():
            if rtype == "aws_iam_policy_document":
                found.append((directory, name, unquote(body)))
    return found


def test_iam_grants_no_wildcards() -> None:
    documents = _policy_documents()
    assert len(documents) >= 8
    for directory, name, document in documents:
        for statement in document["statement"]:
            where = f"{directory.name}/{name}/{statement.get('sid')}"
            if statement.get("effect", "Allow") == "Deny":
                continue  # deny-insecure-transport statements may be broad: they only take away
            actions = statement["actions"]
            assert all(a != "*" and not a.endswith(":*") for a in actions), where
            if "*" in statement.get("resources", []):
                # ecr:GetAuthorizationToken has no resource-level permissions: AWS requires "*".
                assert actions == ["ecr:GetAuthorizationToken"], where
            for principal in statement.get("principals", []):
                assert principal["identifiers"] != ["*"], where


def test_task_roles_are_scoped_to_their_resources() -> None:
    documents = {
        name: doc for directory, name, doc in _policy_documents() if directory == TERRAFORM
    }
    assert set(documents) == {"upload_service", "processing_worker", "notifier_service"}
    grants: dict[str, dict[str, set[str]]] = {}
    for service, document in documents.items():
        for statement in document["statement"]:
            for action in statement["actions"]:
                grants.setdefault(service, {}).setdefault(action, set()).update(
                    statement["resources"]
                )
    notify = "${local.notify_queues_arn}"
    # Only the notifier manages queues, only its own replicas' (by name prefix).
    assert grants["notifier_service"]["sqs:CreateQueue"] == {notify}
    assert grants["notifier_service"]["sqs:DeleteQueue"] == {notify}
    # The dead-queue sweeper: heartbeat tags on the replica queues only; ListQueues has no
    # queue-level resource, so it gets the account's queues in the region, as AWS documents.
    assert grants["notifier_service"]["sqs:TagQueue"] == {notify}
    assert grants["notifier_service"]["sqs:ListQueueTags"] == {notify}
    assert grants["notifier_service"]["sqs:ListQueues"] == {"${local.sqs_arn_prefix}:*"}
    assert grants["processing_worker"]["sqs:SendMessage"] == {notify}
    assert "sqs:CreateQueue" not in grants["processing_worker"]
    # Only the worker consumes upload events and writes variants.
    assert grants["processing_worker"]["sqs:ReceiveMessage"] == {"${module.data.upload_queue_arn}"}
    assert "sqs:ReceiveMessage" not in grants["upload_service"]
    for service in ("upload_service", "notifier_service"):
        assert grants[service]["s3:GetObject"] == {
            "${module.data.processed_bucket_arn}/processed/*"
        }
    # The notifier deletes and updates nothing but its own registrations.
    assert "s3:DeleteObject" not in grants["notifier_service"]
    assert "dynamodb:UpdateItem" not in grants["notifier_service"]
    # DELETE /image/{id}: the owner's original and variants, on the pipeline's prefixes only.
    assert grants["upload_service"]["s3:DeleteObject"] == {
        "${module.data.uploads_bucket_arn}/uploads/*",
        "${module.data.processed_bucket_arn}/processed/*",
    }
    # Per-user counters: increments and reads of the usage table, nothing on the images.
    assert grants["upload_service"]["dynamodb:UpdateItem"] == {"${module.data.usage_table_arn}"}
    assert "${module.data.usage_table_arn}" in grants["upload_service"]["dynamodb:GetItem"]
    usage_actions = {
        action
        for action, resources in grants["upload_service"].items()
        if "${module.data.usage_table_arn}" in resources
    }
    assert usage_actions == {"dynamodb:UpdateItem", "dynamodb:GetItem"}
    # "My images" is a Query of the owner index.
    owner_index = "${module.data.images_table_arn}/index/${module.data.owner_index_name}"
    owner_actions = {
        a for a, resources in grants["upload_service"].items() if owner_index in resources
    }
    assert owner_actions == {"dynamodb:Query"}
    # SignUp, ConfirmSignUp and InitiateAuth are unauthenticated Cognito calls; no role may
    # call Cognito with IAM (AdminConfirmSignUp would skip the e-mail verification).
    for service, service_grants in grants.items():
        assert not [a for a in service_grants if a.startswith("cognito")], service
    assert grants["upload_service"]["s3:PutObject"] == {
        "${module.data.uploads_bucket_arn}/uploads/*"
    }
    assert grants["processing_worker"]["s3:PutObject"] == {
        "${module.data.processed_bucket_arn}/processed/*"
    }
    # Its cleanup after a delete mid-processing: the variants, and the originals it processes.
    assert grants["processing_worker"]["s3:DeleteObject"] == {
        "${module.data.processed_bucket_arn}/processed/*",
        "${module.data.uploads_bucket_arn}/uploads/*",
        "${module.data.uploads_bucket_arn}/imports/*",
    }
    # The gallery is served by the GSI, so the upload-service may Query it.
    assert any("/index/" in r for r in grants["upload_service"]["dynamodb:Query"])


def test_ecs_environment_names_are_real_settings() -> None:
    from deploy_settings import env_names

    from notifier_service.settings import NotifierSettings
    from processing_worker.settings import WorkerSettings
    from upload_service.settings import UploadServiceSettings

    shared = _environment_locals()
    assert "AWS_REGION" in shared["common_environment"]
    services = blocks(TERRAFORM, "resource")  # noqa: F841 (parse check of services.tf)
    calls = _service_calls()
    classes = {
        "upload_service": UploadServiceSettings,
        "processing_worker": WorkerSettings,
        "notifier_service": NotifierSettings,
    }
    ports = {"upload_service": 8000, "processing_worker": 8002, "notifier_service": 8001}
    assert set(calls) == set(classes)
    for name, cls in classes.items():
        allowed = env_names(cls)
        for variable in _environment_names(calls[name], shared):
            assert variable in allowed, f"{name}: {variable} is not a setting of {cls.__name__}"
        assert calls[name]["container_port"] == ports[name]
        assert cls.model_fields["http_port"].default == ports[name]
        assert f'SNAPQUEUE_HTTP_PORT = "{ports[name]}"' in calls[name]["environment"].replace(
            "\\", ""
        ) or f'SNAPQUEUE_HTTP_PORT="{ports[name]}"' in calls[name]["environment"].replace(" ", "")


def _environment_locals() -> dict[str, set[str]]:
    """The environment maps of main.tf's locals (``common_environment``, ...), by name."""
    found: dict[str, set[str]] = {}
    for entry in load(TERRAFORM / "main.tf")["locals"]:
        for name, value in entry.items():
            if name.endswith("_environment") and isinstance(value, dict):
                found[name] = {k for k in value if not k.startswith("__")}
    return found


def _service_calls() -> dict[str, dict[str, Any]]:
    return {
        unquote(name): body
        for entry in load(TERRAFORM / "services.tf")["module"]
        for name, body in entry.items()
    }


def _environment_names(call: dict[str, Any], shared: dict[str, set[str]]) -> set[str]:
    """Every variable a service's ``environment = merge(local.x, ..., {...})`` sets."""
    expression = call["environment"]
    names = set(re.findall(r"(\b[A-Z][A-Z0-9_]+)\s*=", expression))
    for local in re.findall(r"\blocal\.(\w+)", expression):
        if local in shared:
            names |= shared[local]
    return names


AUTH_NAMES = {"SNAPQUEUE_AUTH_ISSUER", "SNAPQUEUE_AUTH_JWKS_URL", "SNAPQUEUE_AUTH_CLIENT_IDS"}
UPLOAD_ONLY_NAMES = {
    "SNAPQUEUE_COGNITO_USER_POOL_ID",
    "SNAPQUEUE_COGNITO_CLIENT_ID",
    "SNAPQUEUE_USAGE_TABLE",
    "SNAPQUEUE_OWNER_INDEX",
    "SNAPQUEUE_USER_UPLOADS_PER_MINUTE",
    "SNAPQUEUE_USER_MAX_BYTES",
}


def test_accounts_settings_reach_the_right_services() -> None:
    shared = _environment_locals()
    calls = _service_calls()
    names = {name: _environment_names(call, shared) for name, call in calls.items()}
    # Both services that accept signed-in requests verify tokens; the worker serves no user.
    for service in ("upload_service", "notifier_service"):
        assert names[service] >= AUTH_NAMES, service
    assert not AUTH_NAMES & names["processing_worker"]
    assert names["upload_service"] >= UPLOAD_ONLY_NAMES
    for service in ("notifier_service", "processing_worker"):
        assert not UPLOAD_ONLY_NAMES & names[service], service

    auth = next(
        e["auth_environment"]
        for e in load(TERRAFORM / "main.tf")["locals"]
        if "auth_environment" in e
    )
    assert auth["SNAPQUEUE_AUTH_ISSUER"] == "${module.auth.issuer}"
    assert auth["SNAPQUEUE_AUTH_JWKS_URL"] == "${module.auth.jwks_url}"
    clients = auth["SNAPQUEUE_AUTH_CLIENT_IDS"]
    assert "module.auth.spa_client_id" in clients
    assert "var.extra_auth_client_ids" in clients
    upload = calls["upload_service"]["environment"]
    for name, value in {
        "SNAPQUEUE_COGNITO_USER_POOL_ID": "module.auth.user_pool_id",
        "SNAPQUEUE_COGNITO_CLIENT_ID": "module.auth.spa_client_id",
        "SNAPQUEUE_USAGE_TABLE": "module.data.usage_table_name",
        "SNAPQUEUE_OWNER_INDEX": "module.data.owner_index_name",
        "SNAPQUEUE_USER_UPLOADS_PER_MINUTE": "tostring(var.user_uploads_per_minute)",
        "SNAPQUEUE_USER_MAX_BYTES": "tostring(var.user_max_bytes)",
    }.items():
        assert re.search(rf"{name}\s*=\s*{re.escape(value)}", upload), name

    # Auto-confirm is for the embedded emulator only: on AWS every account verifies its e-mail.
    for service, service_names in names.items():
        assert "SNAPQUEUE_AUTH_AUTO_CONFIRM" not in service_names, service
    for path in tf_files() + sorted((TERRAFORM / "vars").glob("*.tfvars")):
        assert not re.search(r"AUTO_CONFIRM\w*\s*=", path.read_text()), path

    defaults = {name: body.get("default") for name, body in variables(TERRAFORM).items()}
    assert defaults["user_uploads_per_minute"] == 60
    assert defaults["user_max_bytes"] == 5368709120
    assert defaults["extra_auth_client_ids"] == []
    assert defaults["owner_index_name"] == "owner-index"
    assert defaults["usage_table_name"] == "UsageCounters"


def test_cognito_user_pool_and_spa_client() -> None:
    resources = {key: unquote(body) for key, body in blocks(AUTH, "resource").items()}
    pool = resources[("aws_cognito_user_pool", "main")]
    assert pool["username_attributes"] == ["email"]
    assert pool["auto_verified_attributes"] == ["email"]
    assert pool["username_configuration"] == [{"case_sensitive": False}]
    (policy,) = pool["password_policy"]
    assert policy["minimum_length"] == "${var.password_minimum_length}"
    for flag in ("require_lowercase", "require_uppercase", "require_numbers", "require_symbols"):
        assert policy[flag] is True, flag
    (recovery,) = pool["account_recovery_setting"]
    assert recovery["recovery_mechanism"] == [{"name": "verified_email", "priority": 1}]
    assert pool["admin_create_user_config"] == [{"allow_admin_create_user_only": False}]
    assert pool["mfa_configuration"] == "${var.mfa_configuration}"
    assert pool["deletion_protection"] == '${var.deletion_protection ? "ACTIVE" : "INACTIVE"}'
    assert "domain" not in json.dumps(pool)  # PrivateLink does not serve pools with a domain

    client = resources[("aws_cognito_user_pool_client", "spa")]
    assert client["generate_secret"] is False
    assert client["explicit_auth_flows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["prevent_user_existence_errors"] == "ENABLED"
    assert client["token_validity_units"] == [
        {"access_token": "minutes", "id_token": "minutes", "refresh_token": "days"}
    ]
    assert "allowed_oauth_flows" not in client  # no hosted UI
    group = resources[("aws_cognito_user_group", "admins")]
    assert group["name"] == "admins"
    assert not [k for k in resources if k[0] == "aws_cognito_user_pool_domain"]

    outputs = {
        unquote(name): unquote(body)["value"]
        for entry in load(AUTH / "outputs.tf")["output"]
        for name, body in entry.items()
    }
    (local_values,) = load(AUTH / "main.tf")["locals"]
    assert unquote(local_values["issuer"]) == (
        "https://cognito-idp.${var.region}.amazonaws.com/${aws_cognito_user_pool.main.id}"
    )
    assert outputs["issuer"] == "${local.issuer}"
    assert outputs["jwks_url"] == "${local.issuer}/.well-known/jwks.json"

    # Defaults: MFA off, 12 characters, 1 h access and ID tokens, 30-day sessions; prod keeps
    # the pool (and its users) from being deleted.
    defaults = {name: body.get("default") for name, body in variables(TERRAFORM).items()}
    assert defaults["auth_mfa_configuration"] == "OFF"
    assert defaults["auth_password_minimum_length"] == 12
    assert defaults["auth_access_token_validity_minutes"] == 60
    assert defaults["auth_id_token_validity_minutes"] == 60
    assert defaults["auth_refresh_token_validity_days"] == 30
    call = module_calls()["auth"]
    assert call["deletion_protection"] == "${var.deletion_protection}"
    assert Environment.from_tfvars("prod").values["deletion_protection"] is True

    # The tasks have no internet route: Cognito (API and JWKS) is reached through PrivateLink.
    network = load(TERRAFORM / "modules" / "network" / "main.tf")
    (network_locals,) = network["locals"]
    assert "cognito-idp" in unquote(network_locals["interface_endpoints"])


# --- what the internet reaches: CloudFront behaviours, then the ALB's listener rules ---


def _glob(pattern: str) -> re.Pattern[str]:
    """ALB path patterns and CloudFront path patterns: ``*`` any run, ``?`` one character."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _listener_rules() -> list[dict[str, Any]]:
    rules = [
        {"name": name, **unquote(body)}
        for (rtype, name), body in blocks(ALB, "resource").items()
        if rtype == "aws_lb_listener_rule"
    ]
    for rule in rules:
        # The simulation below understands path conditions only; anything else (host, header,
        # source-ip) would have to be modelled before this test could vouch for it.
        for condition in rule["condition"]:
            assert set(condition) == {"path_pattern"}, rule["name"]
        assert rule["listener_arn"] == "${aws_lb_listener.https.arn}", rule["name"]
    return sorted(rules, key=lambda r: r["priority"])


def _rule_patterns(rule: dict[str, Any]) -> list[str]:
    return [v for c in rule["condition"] for p in c["path_pattern"] for v in p["values"]]


def _target_services() -> dict[str, str]:
    """``aws_lb_target_group`` name -> the service module whose tasks register in it."""
    outputs = {
        unquote(name): unquote(body)["value"]
        for entry in load(ALB / "main.tf")["output"]
        for name, body in entry.items()
    }
    found = {}
    for service, call in _service_calls().items():
        arn = unquote(call.get("target_group_arn", ""))
        match = re.fullmatch(r"\$\{module\.alb\.(\w+)\}", arn)
        if match:
            group = re.fullmatch(r"\$\{aws_lb_target_group\.(\w+)\.arn\}", outputs[match.group(1)])
            assert group, outputs[match.group(1)]
            found[group.group(1)] = service
    return found


def _alb(path: str, decodes: bool) -> tuple[str, str] | None:
    """(service, path it receives) for a request the ALB gets, or None for a fixed response.

    ``decodes``: whether the ALB percent-decodes the path before matching (AWS does not say;
    both are checked).
    """
    if decodes:
        path = percent_decode(path)
    services = _target_services()
    for rule in _listener_rules():
        if not any(_glob(p).fullmatch(path) for p in _rule_patterns(rule)):
            continue
        action = rule["action"][-1]
        if action["type"] != "forward":
            return None
        for transform in rule.get("transform", []):
            assert transform["type"] == "url-rewrite"
            for rewrite in transform["url_rewrite_config"][0]["rewrite"]:
                # ALB writes $1 for a group; an unmatched regex leaves the path as it is.
                replace = re.sub(r"\$(\d)", r"\\\1", rewrite["replace"])
                path = re.sub(rewrite["regex"], replace, path, count=1)
        group = re.fullmatch(r"\$\{aws_lb_target_group\.(\w+)\.arn\}", action["target_group_arn"])
        assert group, action
        return services[group.group(1)], path
    return None  # the default action (asserted below to be a fixed 404)


def _cloudfront(path: str, decodes: bool) -> str:
    """The origin CloudFront sends ``path`` to: "alb" or the SPA bucket's id."""
    distribution = unquote(blocks(CDN, "resource")[("aws_cloudfront_distribution", "main")])
    (cdn_locals,) = load(CDN / "main.tf")["locals"]

    def origin(expression: str) -> str:
        match = re.fullmatch(r"\$\{local\.(\w+)\}", expression)
        return unquote(cdn_locals[match.group(1)]) if match else expression

    alb_origins = {
        origin(o["origin_id"]) for o in distribution["origin"] if "custom_origin_config" in o
    }
    assert alb_origins == {"alb"}
    assert [o["domain_name"] for o in distribution["origin"] if "custom_origin_config" in o] == [
        "${var.api_domain_name}"
    ]
    candidate = percent_decode(path) if decodes else path
    for behaviour in distribution["ordered_cache_behavior"]:
        if _glob(behaviour["path_pattern"]).fullmatch(candidate):
            return origin(behaviour["target_origin_id"])
    return origin(distribution["default_cache_behavior"][0]["target_origin_id"])


def _reaches(path: str) -> set[tuple[str, str] | None]:
    """Every (service, path as the service decodes it) a request for ``path`` can reach:
    through our distribution, and straight from any CloudFront distribution (the ALB's
    security group admits all of CloudFront), under each decoding assumption."""
    outcomes: set[tuple[str, str] | None] = set()
    for alb_decodes in (False, True):
        routes = [_alb(path, alb_decodes)]
        for cdn_decodes in (False, True):
            if _cloudfront(path, cdn_decodes) == "alb":
                forwarded = percent_decode(path) if cdn_decodes else path
                routes.append(_alb(forwarded, alb_decodes))
            else:
                routes.append(None)  # the SPA bucket: static files, no service
        for route in routes:
            # The services (uvicorn) percent-decode the path before routing.
            outcomes.add(None if route is None else (route[0], percent_decode(route[1])))
    return outcomes


OPERATIONS_PATHS = ["/metrics", "/api/metrics", "/readyz", "/api/readyz"]


def test_operations_endpoints_are_not_reachable_from_the_internet() -> None:
    rules = _listener_rules()
    forward = [r for r in rules if r["action"][-1]["type"] == "forward"]
    blocking = [r for r in rules if r["action"][-1]["type"] == "fixed-response"]
    assert forward
    assert blocking
    # The blocking rules exist, cover the four paths and win over every forward rule.
    for path in OPERATIONS_PATHS:
        covering = [r for r in blocking if any(_glob(p).fullmatch(path) for p in _rule_patterns(r))]
        assert covering, f"no fixed-response rule covers {path}"
        assert min(r["priority"] for r in covering) < min(r["priority"] for r in forward), path
    for rule in blocking:
        assert rule["action"][-1]["fixed_response"][0]["status_code"] == "404", rule["name"]
    listener = unquote(blocks(ALB, "resource")[("aws_lb_listener", "https")])
    assert listener["default_action"][0]["type"] == "fixed-response"
    assert listener["default_action"][0]["fixed_response"][0]["status_code"] == "404"

    # Whatever the spelling, no request reaches a service's metrics, readiness or docs pages.
    probes = [
        *OPERATIONS_PATHS,
        "/api/metrics/",
        "/api/readyz/",
        "/api/metrics/extra",
        "/api/readyz.json",
        "/api/%6Detrics",
        "/api/%6detrics",
        "/api/%72eadyz",
        "/api/metrics%2F",
        "/%61pi/metrics",
        "/api/docs",
        "/api/docs/oauth2-redirect",
        "/api/redoc",
        "/ws/metrics",
        "/ws%2Fmetrics",
    ]
    # The services' own routes (the upload-service has none under /api: the ALB strips it).
    hidden = ("/metrics", "/readyz", "/docs", "/redoc")
    for probe in probes:
        for outcome in _reaches(probe):
            if outcome is None:
                continue
            service, received = outcome
            assert not received.startswith(hidden), (probe, outcome)
            # The notifier serves the internet its WebSocket only.
            assert service != "notifier_service" or received == "/ws", (probe, outcome)

    # And the public API still gets through, prefix stripped (the simulation is not vacuous).
    image = "/image/0123456789abcdef0123456789abcdef"
    for path, expected in {
        "/api/upload-request": ("upload_service", "/upload-request"),
        f"/api{image}": ("upload_service", image),
        "/api/get-all-images": ("upload_service", "/get-all-images"),
        "/api/healthz": ("upload_service", "/healthz"),
        "/api/openapi.json": ("upload_service", "/openapi.json"),
        "/ws": ("notifier_service", "/ws"),
    }.items():
        assert _reaches(path) == {expected}, path
    assert _reaches("/index.html") == {None}
    assert _reaches("/gallery") == {None}


def _checkov() -> Path:
    checkov = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    if not checkov.exists():
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "install-tools.sh")], cwd=ROOT, check=True, timeout=600
        )
    return checkov


def test_checkov_has_no_failed_checks() -> None:
    checkov = _checkov()
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} {c['file_path']}"
        for c in report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 300
    assert result.returncode == 0
    # Every skip carries its reason next to the resource.
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_every_inline_skip_has_a_reason() -> None:
    pattern = re.compile(r"checkov:skip=(CKV2?_AWS_\d+):(.+)")
    skips = 0
    for directory in [TERRAFORM, *sorted((TERRAFORM / "modules").iterdir())]:
        for kind in ("resource", "data"):
            for body in blocks(directory, kind).values():
                for comment in raw_comments(body):
                    if "checkov:skip" in comment:
                        match = pattern.search(comment)
                        assert match, comment
                        assert len(match.group(2).split()) >= 6, comment
                        skips += 1
    assert skips >= 10


def test_terraform_defaults_are_the_core_defaults() -> None:
    # Left at their defaults, Terraform and a default bootstrap describe the same resources.
    defaults = {name: body.get("default") for name, body in variables(TERRAFORM).items()}
    core = CoreSettings.model_fields
    pairs = {
        "upload_queue_name": "upload_queue",
        "upload_dlq_name": "upload_dlq",
        "images_table_name": "images_table",
        "connections_table_name": "connections_table",
        "gallery_index_name": "gallery_index",
        "notify_queue_prefix": "notify_queue_prefix",
        "queue_visibility_timeout_seconds": "queue_visibility_timeout_seconds",
        "queue_max_receive_count": "queue_max_receive_count",
        "queue_retention_seconds": "queue_retention_seconds",
    }
    for variable, field in pairs.items():
        assert defaults[variable] == core[field].default, variable
