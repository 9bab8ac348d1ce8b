"""Notifications without I/O: who gets which alert, the robots' JSON shapes, the signatures
(checked against vectors computed with openssl, not with this code), the configuration's
errors naming their field, the backoff schedule, and messages free of personal data."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from contracts import new_envelope
from contracts.lifecycle import (
    ComplaintEscalated,
    EscalationLevel,
    MajorComplaintFlagged,
    MajorRule,
    Role,
)
from contracts.sla import SlaBreached, SlaWarning
from services.runtime.settings import read_settings
from services.sla.notifications import (
    DEFAULT_FILE,
    AlertKind,
    Delivery,
    NotificationConfigError,
    alert_of,
    backoff_s,
    complaints_signature,
    delivery_id,
    dingtalk_sign,
    escape_markdown,
    load_notifications,
    parse_notifications,
    payload,
    robot_answer,
    robot_error,
    signed_request,
)
from services.sla.settings import SlaSettings

# openssl: printf '1700000000000\nSEC0123456789abcdef' | openssl dgst -sha256 \
#   -hmac SEC0123456789abcdef -binary | base64
DINGTALK_VECTOR = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
# openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
OURS_VECTOR = "1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"

CONFIG = """
delivery: {max_attempts: 3, backoff_base_s: 2, backoff_max_s: 10}
rules:
  - {alert: warning, roles: [cs_head]}
  - {alert: breach, roles: [cs_head, project_manager]}
  - {alert: escalation, levels: [company], roles: [company]}
  - {alert: major, roles: [project_manager]}
targets:
  - {name: y-head, office: Y园, role: cs_head, kind: wecom,
     url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1", secret_env: S_HEAD}
  - {name: y-pm, office: Y园, role: project_manager, kind: dingtalk,
     url: "https://oapi.dingtalk.com/robot/send?access_token=t1", secret_env: S_PM}
  - {name: g-pm, office: G小城, role: project_manager, kind: dingtalk,
     url: "https://oapi.dingtalk.com/robot/send?access_token=t2", secret_env: S_PM}
  - {name: quality, role: company, kind: wecom,
     url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k2", secret_env: S_Q}
"""
ENV = {"S_HEAD": "head-secret", "S_PM": "SEC0123456789abcdef", "S_Q": "q-secret"}
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
CID = uuid.UUID("6f1b2c3d-0000-4000-8000-000000000001")


def envelope(data: object, at: datetime = NOW) -> object:
    return new_envelope(
        data,  # type: ignore[arg-type]
        event_id=uuid.uuid4(),
        complaint_id=CID,
        occurred_at=at,
        recorded_at=at,
        source="test",
    )


def test_the_dingtalk_sign_matches_the_documented_formula_computed_by_openssl() -> None:
    assert dingtalk_sign("SEC0123456789abcdef", 1700000000000) == DINGTALK_VECTOR


def test_our_signature_header_matches_hmac_of_timestamp_dot_body() -> None:
    assert (
        complaints_signature("s3cret", 1700000000, b'{"a":1}') == f"t=1700000000,v1={OURS_VECTOR}"
    )


def test_payload_shapes_of_wecom_and_dingtalk_robots() -> None:
    assert payload("wecom", "T", "### T\n\nbody") == {
        "msgtype": "markdown",
        "markdown": {"content": "### T\n\nbody"},
    }
    assert payload("dingtalk", "T", "### T\n\nbody") == {
        "msgtype": "markdown",
        "markdown": {"title": "T", "text": "### T\n\nbody"},
    }


def test_a_dingtalk_request_carries_timestamp_and_url_encoded_sign() -> None:
    config = parse_notifications(CONFIG, environ=ENV)
    target = config.targets["y-pm"]
    at = datetime.fromtimestamp(1700000000, UTC)
    req = signed_request(target, ENV["S_PM"], uuid.UUID(int=7), "T", "text", at)
    query = parse_qs(urlsplit(req.url).query)  # parse_qs decodes: the sign survives the URL
    assert query == {
        "access_token": ["t1"],
        "timestamp": ["1700000000000"],
        "sign": [DINGTALK_VECTOR],
    }
    assert req.url.endswith("&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D")
    assert orjson.loads(req.body) == payload("dingtalk", "T", "text")
    assert req.headers["X-Complaints-Delivery"] == str(uuid.UUID(int=7))
    t, v1 = req.headers["X-Complaints-Signature"].split(",")
    assert t == "t=1700000000"
    assert v1 == "v1=" + complaints_signature(ENV["S_PM"], 1700000000, req.body).split("v1=")[1]


def test_a_wecom_request_goes_to_the_url_as_configured() -> None:
    config = parse_notifications(CONFIG, environ=ENV)
    req = signed_request(config.targets["y-head"], "head-secret", uuid.uuid4(), "T", "x", NOW)
    assert req.url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
    assert orjson.loads(req.body) == {"msgtype": "markdown", "markdown": {"content": "x"}}


def test_who_gets_what_by_alert_role_office_and_level() -> None:
    config = parse_notifications(CONFIG, environ=ENV)

    def names(
        kind: AlertKind, office: str | None, level: EscalationLevel | None = None
    ) -> list[str]:
        return [t.name for t in config.targets_for(kind, office, level)]

    assert names(AlertKind.WARNING, "Y园") == ["y-head"]
    assert names(AlertKind.BREACH, "Y园") == ["y-head", "y-pm"]
    assert names(AlertKind.BREACH, "G小城") == ["g-pm"]
    assert names(AlertKind.MAJOR, "G小城") == ["g-pm"]
    assert names(AlertKind.ESCALATION, "Y园", EscalationLevel.CS_HEAD) == []
    assert names(AlertKind.ESCALATION, "Y园", EscalationLevel.COMPANY) == ["quality"]
    assert names(AlertKind.WARNING, "别处") == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (CONFIG.replace("kind: wecom", "kind: slack", 1), "targets[0].kind"),
        (
            CONFIG.replace(
                '"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"', "ftp://x", 1
            ),
            "targets[0].url",
        ),
        (
            CONFIG.replace("secret_env: S_HEAD", "secret_env: lower-case", 1),
            "targets[0].secret_env",
        ),
        (CONFIG.replace("role: cs_head", "role: janitor", 1), "targets[0].role"),
        (CONFIG.replace("name: g-pm", "name: y-pm", 1), "targets[2].name"),
        (CONFIG.replace("alert: warning", "alert: rumour", 1), "rules[0].alert"),
        (
            CONFIG.replace("{alert: major, roles: [project_manager]}", "{alert: major, roles: []}"),
            "rules[3].roles",
        ),
        (
            CONFIG.replace("{alert: warning, roles", "{alert: warning, levels: [company], roles"),
            "rules[0].levels",
        ),
        (CONFIG.replace("max_attempts: 3", "max_attempts: 0"), "delivery.max_attempts"),
        (CONFIG.replace("backoff_max_s: 10", "backoff_max_s: 1"), "delivery.backoff_max_s"),
        (
            CONFIG.replace("backoff_max_s: 10", "backoff_max_s: 7200"),
            "delivery.backoff_max_s",
        ),
        (
            CONFIG.replace("max_attempts: 3", "give_up_after_s: 5"),
            "delivery.give_up_after_s",
        ),
        (CONFIG.replace("max_attempts: 3", "give_up_after_s: -1"), "delivery.give_up_after_s"),
        (CONFIG.replace("max_attempts: 3", "per_minute: 0"), "delivery.per_minute"),
        (CONFIG.replace("max_attempts: 3", "throttle_block_s: 0"), "delivery.throttle_block_s"),
        (
            CONFIG.replace("secret_env: S_Q}", "secret_env: S_Q, per_minute: 0}"),
            "targets[3].per_minute",
        ),
        (CONFIG + "\nextra: 1\n", "extra"),
        ("rules: [\n", "(file)"),
    ],
)
def test_config_errors_name_the_field(text: str, field: str) -> None:
    with pytest.raises(NotificationConfigError) as caught:
        parse_notifications(text, environ=ENV)
    assert any(p.startswith(f"{field}: ") for p in caught.value.problems), caught.value.problems


def test_a_missing_secret_names_its_variable_unless_secrets_are_not_required() -> None:
    env = {k: v for k, v in ENV.items() if k != "S_Q"}
    with pytest.raises(NotificationConfigError) as caught:
        parse_notifications(CONFIG, environ=env)
    assert caught.value.problems == [
        "targets[3].secret_env: the environment variable S_Q is not set (or empty)"
    ]
    assert parse_notifications(CONFIG, environ=env, require_secrets=False).secrets["quality"] == ""


def test_the_service_refuses_to_start_on_a_bad_file_naming_variable_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "n.yaml"
    bad.write_text(CONFIG.replace("kind: wecom", "kind: slack", 1), encoding="utf-8")
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COMPLAINTS_NOTIFICATIONS_FILE", str(bad))
    _, problems = read_settings(SlaSettings)
    assert [(p.variable, p.reason.split(": ")[1]) for p in problems] == [
        ("COMPLAINTS_NOTIFICATIONS_FILE", "targets[0].kind")
    ]


def test_the_shipped_file_checks() -> None:
    config = load_notifications(DEFAULT_FILE, environ={})
    # Give up by age (a day), not after a few attempts; backoff at most 10 minutes; each robot
    # below its 20 a minute, and left alone 10 minutes when it says we send too much.
    assert config.delivery.max_attempts is None
    assert config.delivery.give_up_after_s == 86400
    assert config.delivery.backoff_max_s == 600
    assert (config.delivery.per_minute, config.delivery.throttle_block_s) == (19, 600)
    assert {r.alert for r in config.rules} == set(AlertKind)
    assert config.targets == {}
    roles = {
        level: {
            r
            for rule in config.rules
            if rule.alert is AlertKind.ESCALATION
            and rule.levels is not None
            and level in rule.levels
            for r in rule.roles
        }
        for level in EscalationLevel
    }
    # the level that now answers hears of it; the company's escalations reach the PM too
    assert roles[EscalationLevel.CS_HEAD] == {Role.CS_HEAD}
    assert roles[EscalationLevel.PROJECT_MANAGER] == {Role.PROJECT_MANAGER}
    assert roles[EscalationLevel.COMPANY] == {Role.PROJECT_MANAGER, Role.COMPANY}
    major = {r for rule in config.rules if rule.alert is AlertKind.MAJOR for r in rule.roles}
    assert Role.PROJECT_MANAGER in major  # seed 000: 立即向物业服务项目经理汇报


def test_backoff_doubles_up_to_the_ceiling_with_jitter() -> None:
    delivery = Delivery(backoff_base_s=2, backoff_max_s=10)
    low = random.Random()
    low.uniform = lambda a, b: a  # type: ignore[method-assign]
    high = random.Random()
    high.uniform = lambda a, b: b  # type: ignore[method-assign]
    assert [backoff_s(n, delivery, high) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert [backoff_s(n, delivery, low) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert backoff_s(5000, delivery, high) == 10  # a day of attempts: no overflow
    seeded = random.Random(1)
    assert all(1 <= backoff_s(1, delivery, seeded) <= 2 for _ in range(100))


def test_robot_answers_errcode_zero_is_delivered_anything_else_is_not() -> None:
    assert robot_error("wecom", 200, b'{"errcode":0,"errmsg":"ok"}') is None
    assert robot_error("dingtalk", 200, b"") is None
    assert robot_error("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}') == (
        "dingtalk errcode 310000: sign not match"
    )
    assert robot_error("wecom", 500, b"boom") == "HTTP 500: boom"
    assert robot_error("wecom", 200, b'{"errcode":"40008","errmsg":"x"}') == (
        "wecom errcode 40008: x"
    )
    assert robot_error("wecom", 200, b'{"errcode":"0"}') is None


@pytest.mark.parametrize(
    ("kind", "status", "body", "throttled"),
    [
        ("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}', True),
        ("wecom", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', True),
        ("wecom", 200, b'{"errcode":"45009","errmsg":"api freq out of limit"}', True),
        ("wecom", 429, b"slow down", True),
        ("dingtalk", 429, b"", True),
        ("wecom", 200, b'{"errcode":130101,"errmsg":"?"}', False),  # DingTalk's, not WeCom's
        ("dingtalk", 200, b'{"errcode":45009,"errmsg":"?"}', False),
        ("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}', False),
        ("wecom", 503, b"down", False),
    ],
)
def test_throttled_answers_are_told_apart_from_failures(
    kind: str, status: int, body: bytes, throttled: bool
) -> None:
    answer = robot_answer(kind, status, body)  # type: ignore[arg-type]
    assert answer.error is not None
    assert answer.throttled is throttled


def test_messages_name_timers_link_the_workbench_and_escape_the_office() -> None:
    labels = {"reply": "答复业主", "first_response": "首问响应"}
    office = "[A]*园_#(1)"
    link = f"[打开投诉](http://wb.example:8002/complaints/{CID})"
    warn = SlaWarning(timer="reply", deadline=NOW, target="答复业主：1个工作日", share=0.8)
    breach = SlaBreached(timer="first_response", deadline=NOW, hard=False)
    esc = ComplaintEscalated(level=EscalationLevel.CS_HEAD, reason="r", timer="reply", deadline=NOW)
    major = MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="x", actor=None)
    for data, label in ((warn, "答复业主"), (breach, "首问响应"), (esc, "答复业主"), (major, "")):
        alert = alert_of(
            envelope(data),  # type: ignore[arg-type]
            data,
            office,
            timer_labels=labels,
            workbench_url="http://wb.example:8002/",
        )
        assert alert is not None
        assert label in alert.text and (label in alert.title or data is esc)
        assert "reply" not in alert.text + alert.title
        assert "first_response" not in alert.text + alert.title
        assert alert.text.endswith(link), alert.text
        assert r"\[A\]\*园\_\#\(1\)" in alert.text  # the office, escaped
        assert office not in alert.text
        assert office in alert.title  # DingTalk's title is plain text
    # No URL, no link; an unknown timer shows its key.
    bare = alert_of(envelope(breach), breach, "Y园")  # type: ignore[arg-type]
    assert bare is not None and "打开投诉" not in bare.text and "first\\_response" in bare.text


def test_escape_markdown_escapes_every_metacharacter_and_nothing_else() -> None:
    assert escape_markdown("a[b]c(d)e*f_g#h`i\\j 园") == "a\\[b\\]c\\(d\\)e\\*f\\_g\\#h\\`i\\\\j 园"


def test_the_workbench_link_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPLAINTS_WORKBENCH_URL", raising=False)
    assert SlaSettings().workbench_base_url == "http://127.0.0.1:8002"  # local mode
    monkeypatch.setenv("COMPLAINTS_WORKBENCH_URL", "https://wb.example.com/")
    assert SlaSettings().workbench_base_url == "https://wb.example.com"
    monkeypatch.setenv("COMPLAINTS_WORKBENCH_URL", "wb.example.com")
    _, problems = read_settings(SlaSettings)
    assert [(p.variable, p.reason) for p in problems] == [
        ("COMPLAINTS_WORKBENCH_URL", "must be an http(s) URL with a host")
    ]


def test_messages_carry_id_office_what_and_deadline_and_no_personal_data() -> None:
    deadline = NOW + timedelta(hours=2)
    warning = alert_of(
        envelope(
            SlaWarning(timer="reply", deadline=deadline, target="答复业主：1个工作日", share=0.8)
        ),  # type: ignore[arg-type]
        SlaWarning(timer="reply", deadline=deadline, target="答复业主：1个工作日", share=0.8),
        "Y园",
    )
    assert warning is not None and warning.kind is AlertKind.WARNING
    assert str(CID) in warning.text and "Y园" in warning.text and "reply" in warning.text
    assert "2026-12-04 18:00（北京时间）" in warning.text  # 10:00 UTC in China time
    breach_data = SlaBreached(timer="first_response", deadline=NOW, hard=True)
    breach = alert_of(envelope(breach_data), breach_data, None)  # type: ignore[arg-type]
    assert breach is not None and "硬性时限" in breach.title and "未知管理处" in breach.text
    esc_data = ComplaintEscalated(
        level=EscalationLevel.PROJECT_MANAGER, reason="r", timer="reply", deadline=NOW
    )
    esc = alert_of(envelope(esc_data), esc_data, "Y园")  # type: ignore[arg-type]
    assert esc is not None and esc.level is EscalationLevel.PROJECT_MANAGER
    major_data = MajorComplaintFlagged(
        rule=MajorRule.MANUAL, reason="业主何先生 13812345678 投诉", actor=None
    )
    major = alert_of(envelope(major_data), major_data, "Y园")  # type: ignore[arg-type]
    assert major is not None and "人工认定" in major.text and "项目经理" in major.text
    assert "13812345678" not in major.text and "何先生" not in major.text


def test_delivery_ids_are_stable_per_alert_and_target() -> None:
    alert = uuid.uuid4()
    assert delivery_id(alert, "y-pm") == delivery_id(alert, "y-pm")
    assert delivery_id(alert, "y-pm") != delivery_id(alert, "y-head")
    assert delivery_id(alert, "y-pm") != delivery_id(uuid.uuid4(), "y-pm")
