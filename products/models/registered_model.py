from __future__ import annotations

from django.conf import settings
from django.db import models

from inference.model_folder import LOCAL_PREFIX, ModelCandidate


class RegisteredModel(models.Model):
    """A base model from the operator's models folder that one team registered, so its versions may use it.

    The folder is the operator's and every team's admins see what is in it; registration is per team, so a
    team only ever serves the models it chose (and another team's choice changes nothing for it). What the
    files were at registration is recorded here; the worker re-checks the path when it loads them.
    """

    class Format(models.TextChoices):
        GGUF = "gguf", "GGUF (llama.cpp)"
        HF = "hf", "Hugging Face folder (torch)"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="registered_models")
    name = models.CharField(max_length=100, help_text="The file or folder's name directly in the models folder.")
    format = models.CharField(max_length=8, choices=Format.choices)
    size_bytes = models.BigIntegerField()
    parameters = models.BigIntegerField(null=True, blank=True)
    architecture = models.CharField(max_length=60, blank=True)
    licence_note = models.TextField(blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                      related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="registered_model_unique_per_team")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def model_id(self) -> str:
        """What a product version's base_model holds for this model."""
        return LOCAL_PREFIX + self.name

    def candidate(self) -> ModelCandidate:
        return ModelCandidate(self.name, self.format, self.size_bytes, self.parameters, self.architecture,
                              self.licence_note)
