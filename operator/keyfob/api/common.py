"""Building blocks shared by the CRD models: camelCase wire names, conditions, references."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from keyfob.api.vocabulary import K8S_NAME_PATTERN

K8sName = Annotated[str, Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)]


class CamelModel(BaseModel):
    """Base for every CRD model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_enum_values=False,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict Kubernetes expects (camelCase, no unset optionals)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CamelModel):
    """A Kubernetes-style condition (metav1.Condition)."""

    type: str = Field(description="Condition type, e.g. Ready.", max_length=316)
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="One CamelCase word saying why.", max_length=1024)
    message: str = Field(default="", description="Human-readable detail.", max_length=32768)
    last_transition_time: datetime | None = Field(default=None, description="When status last changed.")
    observed_generation: int | None = Field(default=None, description="Generation this was computed for.")


class SecretKeySelector(CamelModel):
    """A reference to a Secret holding provider admin credentials."""

    name: K8sName = Field(description="Name of the Secret.")
    namespace: K8sName | None = Field(
        default=None,
        description=(
            "Namespace of the Secret. Only for ClusterAccessKeyProvider (defaults to the operator's cluster "
            "resource namespace); an AccessKeyProvider always reads from its own namespace."
        ),
    )


class LabelSelectorRequirement(CamelModel):
    key: str = Field(description="Label key.", max_length=317)
    operator: str = Field(description="In, NotIn, Exists or DoesNotExist.", pattern=r"^(In|NotIn|Exists|DoesNotExist)$")
    values: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list, description="Values for In/NotIn.", max_length=64
    )


class LabelSelector(CamelModel):
    """A standard Kubernetes label selector."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="Labels that must all match.")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Requirements that must all hold.", max_length=16
    )


class ObjectKind(StrEnum):
    ACCESS_KEY_PROVIDER = "AccessKeyProvider"
    CLUSTER_ACCESS_KEY_PROVIDER = "ClusterAccessKeyProvider"
