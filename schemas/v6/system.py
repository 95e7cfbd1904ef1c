"""System payloads (6.20): the same VersionResult as 7.9."""

from schemas.system import VersionResult

__all__ = ["VersionResult"]
