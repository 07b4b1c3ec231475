"""STS ``AssumeRole`` held to the role's trust policy, and the accounts' principals.

moto's ``AssumeRole`` grants any role to anyone, even a role that does not
exist (``moto/sts/models.py``: "the role does not need to exist"). AWS refuses
unless the role exists and its trust policy allows the caller. This module
evaluates the trust policy before moto issues credentials, modelled on:

* STS API Reference, AssumeRole: the caller must be allowed by the role's
  trust policy; the role's account need not be the caller's; a request that is
  not allowed fails with ``AccessDenied`` ("User: ARN is not authorized to
  perform: sts:AssumeRole on resource: ROLE"), HTTP 403.
* IAM User Guide, "IAM JSON policy elements: Principal": an ``AWS`` principal is
  an account ID or ``arn:aws:iam::ACCOUNT:root`` (any principal of that
  account), a role ARN (the role's sessions: "you can specify the role ARN ...
  as a principal", which matches sessions of that role), a user ARN, or
  ``"*"``; a ``Service`` principal names an AWS service (``lambda.amazonaws.com``
  for a Lambda function's execution role).
* IAM User Guide, "Policy evaluation logic": an explicit ``Deny`` wins, else an
  ``Allow`` that matches, else the implicit deny.
* IAM User Guide, "IAM JSON policy elements: Condition operators":
  ``StringEquals``/``StringNotEquals`` (exact, case-sensitive) and
  ``StringLike``/``StringNotLike`` (``*`` and ``?``); a value list matches when
  any value matches; a condition key absent from the request makes
  ``StringEquals`` and ``StringLike`` false (and their negations true).
* IAM User Guide, "Access to AWS accounts owned by third parties" (the external
  ID): ``"Condition": {"StringEquals": {"sts:ExternalId": "..."}}``, present in
  the request only when the caller passes ``ExternalId``.
* AWS global condition context keys: ``aws:PrincipalArn`` (for a role session,
  the role's ARN), ``aws:PrincipalAccount``.

Only what the trust policies we deploy use is evaluated; anything else in a
trust policy (another operator, another condition key, ``NotPrincipal``,
``NotAction``) is refused loudly (``InternalFailure`` naming it) rather than
guessed at.

Test-only endpoints (``middleware.py`` routes them):

* ``POST /_autopilot/accounts/admin {"account": "222222222222"}``: access keys
  of an administrator (an IAM user ``autopilot-admin``) of that account, made
  once per account, so a test can set up an account's roles and resources as
  its administrator would. Answers ``{"account", "accessKeyId",
  "secretAccessKey"}``.
* ``POST /_autopilot/lambda/credentials {"roleArn": ARN}``: the credentials
  Lambda gives a function whose execution role is ``ARN``: allowed only when
  the role's trust policy lets ``lambda.amazonaws.com`` assume it (403
  otherwise, 404 for no such role). Answers ``{"accessKeyId",
  "secretAccessKey", "sessionToken", "arn"}``.
* ``GET /_autopilot/sts/sessions?roleArn=ARN``: the role's sessions
  (``{"roleArn", "sessions": [{"accessKeyId", "secretAccessKey",
  "sessionToken", "sessionName", "externalId"}]}``), so a test can count the
  calls made in them and prove their secrets never reach a log.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any
from urllib.parse import unquote

from moto.core.exceptions import _RESTError
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse

PARTITION = "aws"
ADMIN_USER = "autopilot-admin"
LAMBDA_SERVICE = "lambda.amazonaws.com"
_ROLE_ARN = re.compile(r"^arn:(aws[\w-]*):iam::(\d{12}):role/(?:.+/)?[^/]+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):root$")
SUPPORTED_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}
SUPPORTED_KEYS = {"sts:externalid", "aws:principalarn", "aws:principalaccount"}


class AccessDenied(_RESTError):
    """STS's ``AccessDenied``, HTTP 403, in the awsQuery error shape."""

    code = 403

    def __init__(self, message: str):
        super().__init__("AccessDenied", message)


class Unsupported(_RESTError):
    """A trust policy this model does not evaluate: fail loudly, never guess."""

    code = 500

    def __init__(self, message: str):
        super().__init__("InternalFailure", message)


class EndpointError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- who is calling -------------------------------------------------------------


class Caller:
    """The principal a request is signed as."""

    def __init__(self, account: str, arn: str, role_arn: str | None = None) -> None:
        self.account = account
        self.arn = arn
        # For a role session: the role's ARN (aws:PrincipalArn).
        self.role_arn = role_arn

    @property
    def principal_arn(self) -> str:
        return self.role_arn or self.arn


def caller_of(access_key: str) -> Caller:
    """The caller an access key signs as: a role session, an IAM user, or
    (for keys moto has never issued, as the test harness's own) the
    default account's root."""
    account = get_account_id_from(access_key)
    session = sts_backends[account][PARTITION].get_assumed_role_from_access_key(access_key)
    if session is not None:
        return Caller(account, session.arn, session.role_arn)
    user = iam_backends[account][PARTITION].get_user_from_access_key_id(access_key)
    if user is not None:
        return Caller(account, user.arn)
    return Caller(account, f"arn:{PARTITION}:iam::{account}:root")


# --- trust policy evaluation ------------------------------------------------------


def _values(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, caller: Caller | None, service: str | None) -> bool:
    if principal == "*":
        return caller is not None
    if not isinstance(principal, dict):
        raise Unsupported(f"trust policy Principal {principal!r} is not evaluated by the local AWS")
    for kind, values in principal.items():
        if kind not in ("AWS", "Service"):
            raise Unsupported(f"trust policy Principal type {kind!r} is not evaluated by the local AWS")
        for value in _values(values):
            if kind == "Service":
                if service is not None and value == service:
                    return True
                continue
            if caller is None:
                continue
            if value == "*":
                return True
            root = _ROOT.match(value)
            if _ACCOUNT.match(value) or root:
                if (root.group(1) if root else value) == caller.account:
                    return True
                continue
            if value in (caller.arn, caller.role_arn):
                return True
    return False


def _action_matches(action: Any) -> bool:
    return any(a in ("sts:AssumeRole", "sts:*", "*") for a in _values(action))


def _conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        if operator not in SUPPORTED_OPERATORS:
            raise Unsupported(f"trust policy condition operator {operator!r} is not evaluated")
        for key, wanted in tests.items():
            if key.lower() not in SUPPORTED_KEYS:
                raise Unsupported(f"trust policy condition key {key!r} is not evaluated")
            present = context.get(key.lower())
            like = operator in ("StringLike", "StringNotLike")
            matched = present is not None and any(
                fnmatch.fnmatchcase(present, w) if like else present == w for w in _values(wanted)
            )
            negated = operator.startswith("StringNot")
            if matched == negated:
                return False
    return True


def allows(
    policy: dict, caller: Caller | None, service: str | None, context: dict[str, str]
) -> bool:
    """Whether a trust policy lets ``caller`` (or ``service``) assume the role."""
    allowed = False
    for statement in _values(policy.get("Statement", [])):
        for element in ("NotPrincipal", "NotAction"):
            if element in statement:
                raise Unsupported(f"trust policy element {element} is not evaluated")
        if not _action_matches(statement.get("Action", [])):
            continue
        if not _principal_matches(statement.get("Principal"), caller, service):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _trust_policy(role: Any) -> dict:
    document = role.assume_role_policy_document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = json.loads(unquote(document))
    return document


def _role(role_arn: str) -> Any | None:
    match = _ROLE_ARN.match(role_arn or "")
    if not match:
        return None
    try:
        return iam_backends[match.group(2)][PARTITION].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto's NotFoundException: no such role
        return None


# --- the patched operation and the endpoints --------------------------------------

_moto_assume_role = TokenResponse.assume_role


def _assume_role(self: TokenResponse):
    role_arn = self._get_param("RoleArn")
    external_id = self._get_param("ExternalId")
    caller = caller_of(self.get_access_key())
    denied = AccessDenied(
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )
    role = _role(role_arn)
    if role is None:
        raise denied
    context = {"aws:principalarn": caller.principal_arn, "aws:principalaccount": caller.account}
    if external_id is not None:
        context["sts:externalid"] = external_id
    if not allows(_trust_policy(role), caller, None, context):
        raise denied
    return _moto_assume_role(self)


def admin_credentials(request: dict) -> dict:
    account = request.get("account") if isinstance(request, dict) else None
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        raise EndpointError(400, "account: a 12-digit account ID is required")
    iam = iam_backends[account][PARTITION]
    if ADMIN_USER not in iam.users:
        iam.create_user(region_name="us-east-1", user_name=ADMIN_USER, path="/", tags=[])
    user = iam.users[ADMIN_USER]
    key = user.access_keys[0] if user.access_keys else iam.create_access_key(ADMIN_USER)
    return {
        "account": account,
        "accessKeyId": key.access_key_id,
        "secretAccessKey": key.secret_access_key,
    }


def lambda_credentials(request: dict) -> dict:
    role_arn = request.get("roleArn") if isinstance(request, dict) else None
    if not isinstance(role_arn, str):
        raise EndpointError(400, "roleArn: a role ARN is required")
    role = _role(role_arn)
    if role is None:
        raise EndpointError(404, f"no role {role_arn}")
    if not allows(_trust_policy(role), None, LAMBDA_SERVICE, {}):
        raise EndpointError(403, f"{role_arn}'s trust policy does not let {LAMBDA_SERVICE} assume it")
    account = _ROLE_ARN.match(role_arn).group(2)
    session = sts_backends[account][PARTITION].assume_role(
        region_name="us-east-1",
        role_session_name="autopilot-function",
        role_arn=role_arn,
        policy=None,
        duration=3600,
        external_id=None,
    )
    return {
        "accessKeyId": session.access_key_id,
        "secretAccessKey": session.secret_access_key,
        "sessionToken": session.session_token,
        "arn": session.arn,
    }


def sessions(query: dict) -> dict:
    """The sessions of a role (its credentials included: test-only, so a
    test can prove they never reach a log)."""
    role_arn = (query.get("roleArn") or [None])[0]
    match = _ROLE_ARN.match(role_arn or "")
    if not match:
        raise EndpointError(400, "roleArn: a role ARN is required")
    found = [
        {
            "accessKeyId": s.access_key_id,
            "secretAccessKey": s.secret_access_key,
            "sessionToken": s.session_token,
            "sessionName": s.session_name,
            "externalId": s.external_id,
        }
        for s in sts_backends[match.group(2)][PARTITION].assumed_roles
        if s.role_arn == role_arn
    ]
    return {"roleArn": role_arn, "sessions": found}


def install() -> None:
    """Hold moto's AssumeRole to the role's trust policy."""
    TokenResponse.assume_role = _assume_role  # type: ignore[method-assign]
