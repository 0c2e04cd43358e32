"""The registry document `pts registry load` reads (docs/registry.md): five sections of
records. Its JSON Schema is `registry.schema.json` (`pts schemas export`).

certification.registry_document reads a file into these records, collecting every problem;
this model is the document's one shape (and the roles' one definition).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.registry import AccuracyClass, DasProvider, Meter, System


class Role(StrEnum):
    """What an account may do (certification.roles decides with it)."""

    OWNER = "system_owner"
    REC_OWNER = "rec_owner"
    REPRESENTATIVE = "system_representative"
    DAS_PROVIDER = "das_provider"
    ADMIN = "admin"


class AccountRecord(BaseModel):
    """A person or organisation other records refer to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str = Field(min_length=1, max_length=128)
    role: Role = Field(description="an admin must exist already: a file cannot create one")
    name: str = ""
    email: str = Field(default="", description="contact for month-close findings")


class ApprovedMeter(BaseModel):
    """A meter model on the approved list, with the accuracy class it is approved for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1)
    accuracy_class: AccuracyClass


class RegistryFile(BaseModel):
    """A registry document: every section optional, records upserted by their ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: list[DasProvider] = Field(default_factory=list)
    accounts: list[AccountRecord] = Field(default_factory=list)
    approved_meters: list[ApprovedMeter] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    meters: list[Meter] = Field(default_factory=list)
