"""Who is asking: one person in one workspace, with their role and Teams."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    workspace_id: str
    user_id: str | None
    role: str
    team_ids: frozenset[str] = field(default_factory=frozenset)
    email: str = ""
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return self.user_id or "cli"

    @classmethod
    def operator(cls, workspace_id: str, team_ids: frozenset[str] = frozenset()) -> Caller:
        """The person at the server's command line: an admin of the workspace with no account."""
        return cls(workspace_id=workspace_id, user_id=None, role="admin", team_ids=team_ids, email="cli")
