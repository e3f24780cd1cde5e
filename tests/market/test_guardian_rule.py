"""Access rules live in the features' guardians (market/*/guardian.py), never in handlers.

Every handler module (market/**/views.py, api.py, review_api.py) is parsed, and each way a
handler could decide access on its own is refused: comparing a role, deciding on `is_staff`,
touching a region, comparing an owner or member column, querying memberships or coordinator
regions, or passing roles to `require_user`. A handler asks its feature's guardian instead (or
`market.actor.staff_actor` for "staff only"), so a page and its API cannot drift apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLER_NAMES = ("views.py", "api.py", "review_api.py")
HANDLERS = sorted(
    [
        path
        for name in HANDLER_NAMES
        for path in (ROOT / "market").rglob(name)
        # market/api.py and market/views.py are the shared helpers (JSON pages, error pages).
        if path.parent != ROOT / "market"
    ]
    # A feature whose pages are split into several modules keeps them in a `pages` package.
    + list((ROOT / "market").glob("*/pages/*.py"))
)

# Handler files whose feature is still being moved onto its guardian (path -> why), expected to
# fail until then. Empty: every feature's handlers ask their guardian.
PENDING: dict[str, str] = {}

# Columns that say who owns or takes part in something: comparing them is an access rule.
OWNER_COLUMNS = {"author_id", "volunteer_id", "need_author_id", "reporter_id", "user_id"}
# Names whose use in a handler means a hand-written membership or region query.
RULE_NAMES = {"OrganisationMember", "CoordinatorRegion", "regions_of", "membership"}
REGION_ATTRIBUTES = {"region_id", "region_ids"}


def _attr_names(node: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def violations(source: str) -> list[str]:
    """Each place in a handler module that decides access itself, as 'line: what'."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            attrs = set().union(*(_attr_names(s) for s in sides))
            if "role" in attrs:
                found.append(f"{line}: compares a role")
            owners = attrs & OWNER_COLUMNS
            if owners:
                found.append(f"{line}: compares {sorted(owners)[0]} (an ownership rule)")
        elif isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
            # Deciding on is_staff is an access rule; merely showing it (a hint on a page) not.
            if "is_staff" in _attr_names(node.test):
                found.append(f"{line}: decides on is_staff")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            if "is_staff" in _attr_names(node.operand):
                found.append(f"{line}: decides on is_staff")
        elif isinstance(node, ast.Attribute):
            if node.attr in REGION_ATTRIBUTES:
                found.append(f"{line}: touches {node.attr} (a region rule)")
            elif node.attr in RULE_NAMES:
                found.append(f"{line}: uses {node.attr}")
        elif isinstance(node, ast.Name) and node.id in RULE_NAMES:
            found.append(f"{line}: uses {node.id}")
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in RULE_NAMES:
            found.append(f"{getattr(node, 'lineno', line)}: imports {node.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "require_user" and (len(node.args) > 1 or node.keywords):
                found.append(f"{line}: passes roles to require_user")
    return sorted(set(found), key=lambda v: int(v.split(":")[0]))


def test_the_rule_covers_every_feature() -> None:
    folders = {p.parent.name for p in HANDLERS}
    assert {
        "posts",
        "matches",
        "conversations",
        "vetting",
        "inbox",
        "accounts",
        "organisations",
    } <= folders
    assert ROOT / "market" / "matches" / "review_api.py" in HANDLERS


def _case(path: Path) -> object:
    name = str(path.relative_to(ROOT))
    if name in PENDING:
        return pytest.param(path, id=name, marks=pytest.mark.xfail(reason=PENDING[name]))
    return pytest.param(path, id=name)


@pytest.mark.parametrize("path", [_case(p) for p in HANDLERS])
def test_handlers_leave_access_to_the_guardians(path: Path) -> None:
    found = violations(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} decides access itself:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        "if user.role == 'coordinator': pass",
        "if user.role in STAFF: pass",
        "if viewer.is_staff: pass",
        "allowed = post.author_id == user.id or not viewer.is_staff",
        "stmt = stmt.where(Post.region_id.in_(regions))",
        "if post.author_id != user.id: raise Forbidden()",
        "stmt = select(Match).where(Match.volunteer_id == user.id)",
        "stmt = select(Notification).where(Notification.user_id == user.id)",
        "from market.organisations.models import OrganisationMember",
        "allowed = await regions_of(session, user)",
        "member = await services.membership(session, user.id, org.id)",
        "user = await require_user(request, STAFF)",
    ],
)
def test_the_rule_catches_each_kind_of_hand_written_check(snippet: str) -> None:
    assert violations(snippet), snippet


def test_the_rule_lets_guardian_calls_through() -> None:
    source = (
        "actor = await actor_of(request)\n"
        "post = await guardian.readable(session, actor, post_id)\n"
        "stmt = guardian.visible(actor, select(Match))\n"
        "user = await require_user(request)\n"
        "rows = select(Post).where(Post.status == 'published', Post.id == post_id)\n"
    )
    assert violations(source) == []
