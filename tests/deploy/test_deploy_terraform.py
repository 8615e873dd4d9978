"""The Terraform: formatted, parseable, checkov-clean, least-privilege, and describing the same
resources as the bootstrap (``snapqueue_core.resources.declare``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy_hcl import (
    TERRAFORM,
    Environment,
    blocks,
    load,
    raw_comments,
    tf_files,
    unquote,
    variables,
)

from snapqueue_core.resources import Resources, declare
from snapqueue_core.settings import CoreSettings

ROOT = TERRAFORM.parents[1]
DATA = TERRAFORM / "modules" / "data"
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
        indexes = table.get("global_secondary_index", [])
        assert len(indexes) == len(spec.indexes)
        for index, index_spec in zip(indexes, spec.indexes, strict=True):
            assert env.in_module("data", index["name"]) == index_spec.name
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
    # Only the worker consumes upload events and writes variants; nobody else deletes originals.
    assert grants["processing_worker"]["sqs:ReceiveMessage"] == {"${module.data.upload_queue_arn}"}
    assert "sqs:ReceiveMessage" not in grants["upload_service"]
    for service in ("upload_service", "notifier_service"):
        assert "s3:DeleteObject" not in grants[service]
        assert "dynamodb:UpdateItem" not in grants[service]
        assert grants[service]["s3:GetObject"] == {
            "${module.data.processed_bucket_arn}/processed/*"
        }
    assert grants["upload_service"]["s3:PutObject"] == {
        "${module.data.uploads_bucket_arn}/uploads/*"
    }
    assert grants["processing_worker"]["s3:PutObject"] == {
        "${module.data.processed_bucket_arn}/processed/*"
    }
    # The gallery is served by the GSI, so the upload-service may Query it.
    assert any("/index/" in r for r in grants["upload_service"]["dynamodb:Query"])


def test_ecs_environment_names_are_real_settings() -> None:
    from deploy_settings import env_names

    from notifier_service.settings import NotifierSettings
    from processing_worker.settings import WorkerSettings
    from upload_service.settings import UploadServiceSettings

    main = load(TERRAFORM / "main.tf")
    common = set()
    for entry in main["locals"]:
        if "common_environment" in entry:
            common = set(entry["common_environment"])
    assert "AWS_REGION" in common
    services = blocks(TERRAFORM, "resource")  # noqa: F841 (parse check of services.tf)
    calls = {
        unquote(name): body
        for entry in load(TERRAFORM / "services.tf")["module"]
        for name, body in entry.items()
    }
    classes = {
        "upload_service": UploadServiceSettings,
        "processing_worker": WorkerSettings,
        "notifier_service": NotifierSettings,
    }
    ports = {"upload_service": 8000, "processing_worker": 8002, "notifier_service": 8001}
    assert set(calls) == set(classes)
    for name, cls in classes.items():
        extra = set(re.findall(r"(\b[A-Z][A-Z0-9_]+)\s*=", calls[name]["environment"]))
        allowed = env_names(cls)
        for variable in common | extra:
            assert variable in allowed, f"{name}: {variable} is not a setting of {cls.__name__}"
        assert calls[name]["container_port"] == ports[name]
        assert cls.model_fields["http_port"].default == ports[name]
        assert f'SNAPQUEUE_HTTP_PORT = "{ports[name]}"' in calls[name]["environment"].replace(
            "\\", ""
        ) or f'SNAPQUEUE_HTTP_PORT="{ports[name]}"' in calls[name]["environment"].replace(" ", "")


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
