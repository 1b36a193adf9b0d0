"""The embedded SQS (moto's standalone server, from PyPI) and the queues the stack uses.

Amazon delivers ORDER_CHANGE notifications to an SQS queue (docs/ORDERS.md,
"Order notifications"); in development the sandbox writes to this server and
orders reads from it. One queue per environment, ``keybuzz-orders-<env>``, and
its dead-letter queue ``keybuzz-orders-<env>-dlq``.

moto keeps its queues in memory: a restart of the server loses them, and the
stack (or a test fixture) creates them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from keybuzz_devstack import infra

REGION = "eu-west-1"
# moto's default account: what its queue URLs and ARNs carry.
ACCOUNT = "123456789012"
# moto accepts any credentials; these only satisfy the AWS SDK's signer.
DEV_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "keybuzz-dev", "AWS_SECRET_ACCESS_KEY": "keybuzz-dev"}
# Longer than a notification takes to apply, so a message is not redelivered meanwhile.
VISIBILITY_TIMEOUT_SECONDS = 30


def sqs_spec(port: int) -> infra.ServerSpec:
    url = f"http://127.0.0.1:{port}"
    return infra.ServerSpec(
        name="sqs",
        command=[infra.venv_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port=port,
        url=url,
        ready=lambda: infra.http_ok(f"{url}/moto-api/"),
    )


@dataclass(frozen=True)
class Queues:
    endpoint: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str

    def settings(self) -> dict[str, str]:
        """What orders (SQS_*) and the sandbox (SANDBOX_SQS_ENDPOINT) need."""
        return {
            "SQS_ENDPOINT": self.endpoint,
            "SQS_QUEUE_URL": self.queue_url,
            "SQS_DEAD_LETTER_QUEUE_URL": self.dead_letter_url,
            "SQS_REGION": REGION,
            "SANDBOX_SQS_ENDPOINT": self.endpoint,
            **DEV_CREDENTIALS,
        }


def queue_name(environment: str) -> str:
    return f"keybuzz-orders-{environment}"


def create_queues(endpoint: str, name: str) -> Queues:
    """The notification queue and its dead-letter queue (idempotent: CreateQueue is)."""
    import boto3  # here, its one use: ~0.15 s of CPU every test worker and command paid

    client = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    dead_letter = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    queue = client.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS)},
    )["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    return Queues(endpoint, queue, arn["Attributes"]["QueueArn"], dead_letter)
