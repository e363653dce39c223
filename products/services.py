"""Writes for products, their versions and their generation logs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from inference.protocol import Task
from products.kinds import get_kind
from products.kinds.inputs import InputError
from products.kinds.prompts import TemplateError, prompt_length_errors, validate_template
from products.kinds.settings import GenerationSettings, clean_settings
from products.knowledge.services import knowledge_index_request
from products.models import DatasetVersion, FeedbackEvent, Generation, Product, ProductVersion, Release
from products.releases.rollups import rollup_event_recorded, rollup_feedback_changed, rollup_generation_finished
from products.remote_engines import RemoteEngineError, api_key_encrypt, remote_engine_url
from studio.commits import log_transaction
from studio.models import Team
from studio.services import audit_record

RESERVED_SLUGS = {"new", "generations"}  # path segments of the product pages


def _unique_product_slug(team: Team, name: str) -> str:
    base = slugify(name)[:120] or "product"
    slug, n = base, 1
    while slug in RESERVED_SLUGS or Product.objects.filter(team=team, slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def product_create(
    *, team: Team, user: AbstractBaseUser, kind_id: str, template_id: str, name: str = "",
    knowledge_version: DatasetVersion | None = None,
) -> Product:
    """Create a product from a gallery template; its draft starts as the template's settings.

    ``knowledge_version`` (answer kinds) is the dataset version it answers from: reading it is queued here,
    and a dataset that cannot be a knowledge base refuses the whole creation with the reason.
    """
    try:
        kind = get_kind(kind_id)
        template = kind.template(template_id)
    except KeyError as exc:
        raise ValidationError(str(exc.args[0])) from None
    if not kind.available:
        raise ValidationError(f"{kind.name} products are not available in this studio yet.")
    name = name.strip() or template.name
    product = Product(
        team=team,
        kind=kind.id,
        name=name,
        slug=_unique_product_slug(team, name),
        description=template.description,
        template_id=template.id,
        system_prompt=template.system_prompt,
        prompt_template=template.prompt_template,
        input_schema=[field.to_dict() for field in template.inputs],
        settings=template.settings.to_dict(),
        widget=dict(template.widget),
        kind_config=kind.clean_config(
            {**template.kind_config, **({"message_input": template.message_input} if template.message_input else {})}
        ),
        created_by=user,
    )
    if knowledge_version is not None:
        _knowledge_check(kind=kind, team=team, dataset_version=knowledge_version)
        product.knowledge_version = knowledge_version
    product.full_clean()
    product.save()
    if knowledge_version is not None:
        knowledge_index_request(dataset_version=knowledge_version)
    return product


def _knowledge_check(*, kind, team: Team, dataset_version: DatasetVersion) -> None:
    if kind.task != Task.ANSWER:
        raise ValidationError({"knowledge_version": f"{kind.name} products do not answer from a knowledge base."})
    if dataset_version.dataset.team_id != team.pk:  # callers look versions up in the team; this keeps it so
        raise ValidationError({"knowledge_version": "That dataset belongs to another team."})


@transaction.atomic
def product_knowledge_update(
    *, product: Product, knowledge_version: DatasetVersion | None, kind_config: dict[str, Any]
) -> Product:
    """Change the draft's knowledge base and retrieval settings; reading a new dataset version is queued.

    A saved version keeps the knowledge base and settings it was frozen with, so a live product never
    changes under its visitors: a person saves and publishes a version to use the new ones.
    """
    kind = get_kind(product.kind)
    if knowledge_version is not None:
        _knowledge_check(kind=kind, team=product.team, dataset_version=knowledge_version)
    product.kind_config = kind.clean_config({**(product.kind_config or {}), **kind_config})
    product.knowledge_version = knowledge_version
    product.full_clean()
    product.save()
    if knowledge_version is not None:
        knowledge_index_request(dataset_version=knowledge_version)
    return product


@transaction.atomic
def product_kind_config_update(
    *, product: Product, user: AbstractBaseUser, changes: dict[str, Any]
) -> ProductVersion:
    """Change kind-specific settings (a classifier's “unsure below”) and save them as a new version.

    They decide what the product answers, so they are part of the version: the change is a new version
    (publish it to make it live), and rolling back brings the old setting back.
    """
    kind = get_kind(product.kind)
    product = Product.objects.select_for_update().get(pk=product.pk)
    before = dict(product.kind_config or {})
    product.kind_config = kind.clean_config({**before, **changes})
    kind.check_config(product)
    product.full_clean()
    product.save()
    labels = {field.name: field.label for field in kind.config_fields}
    # A setting never saved before had its default: a form posting it unchanged changed nothing.
    defaults = {field.name: field.default for field in kind.config_fields}
    changed = {name: product.kind_config.get(name) for name in changes  # the form posts every field
               if product.kind_config.get(name) != before.get(name, defaults.get(name))} or changes
    described = ", ".join(f"{labels.get(name, name)} set to {_described(value)}" for name, value in changed.items())
    return product_version_create(product=product, user=user, note=f"{described[:1].upper()}{described[1:]}.")


def _described(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


@transaction.atomic
def product_draft_update(
    *, product: Product, system_prompt: str, prompt_template: str, settings: dict[str, Any]
) -> Product:
    """Change the draft. Placeholders must be plain ``{name}``s of the product's inputs, so no prompt breaks."""
    system_prompt, prompt_template = system_prompt.strip(), prompt_template.strip()
    errors = prompt_length_errors(system_prompt=system_prompt, prompt_template=prompt_template)
    if errors:
        raise ValidationError(errors)
    try:
        validate_template(prompt_template, known={field["name"] for field in product.input_schema})
    except TemplateError as exc:
        raise ValidationError({"prompt_template": str(exc)}) from None
    try:
        cleaned_settings = GenerationSettings.from_dict(clean_settings(settings))
    except InputError as exc:
        raise ValidationError({"settings": str(exc)}) from None
    product.system_prompt = system_prompt
    product.prompt_template = prompt_template
    product.settings = cleaned_settings.to_dict()
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_version_create(*, product: Product, user: AbstractBaseUser, note: str = "") -> ProductVersion:
    """Freeze the current draft as the next version number."""
    # Lock the product row so two people saving at once get distinct numbers, not an error.
    Product.objects.select_for_update().filter(pk=product.pk).first()
    last = product.versions.aggregate(n=Max("number"))["n"] or 0
    version = ProductVersion(
        product=product, number=last + 1, note=note.strip()[:300], created_by=user,
        template_id=product.template_id, **product.config(),
    )
    version.full_clean()
    version.save()
    return version


#: What publishing during an A/B split does with the split (the Versions tab asks; the service insists).
SPLIT_STOP, SPLIT_KEEP = "stop", "keep"
SPLIT_CHOICE_NEEDED = ("An A/B split is running. Choose what happens to it: stop it (everyone gets the version you "
                       "publish) or keep it (the version you publish takes over the main arm).")


@transaction.atomic
def product_version_publish(
    *, product: Product, version: ProductVersion, user: AbstractBaseUser | None = None, split: str | None = None
) -> Product:
    """Make ``version`` the live one (publishing an older version is the rollback).

    During an A/B split ``split`` must say what happens to it: SPLIT_STOP ends it, SPLIT_KEEP keeps it
    running with ``version`` as the main arm. Publishing the split's own candidate is promoting it.
    """
    if version.product_id != product.pk:
        raise ValidationError("That version belongs to another product.")
    Product.objects.select_for_update().filter(pk=product.pk).first()  # one publish or split change at a time
    product.refresh_from_db(fields=["archived_at"])
    if product.archived_at is not None:
        raise ValidationError(f"“{product.name}” is archived. Restore it first, then publish a version.")
    release = Release.objects.filter(product=product, stopped_at__isnull=True).first()
    if release is not None:
        if split not in (SPLIT_STOP, SPLIT_KEEP):
            raise ValidationError(SPLIT_CHOICE_NEEDED)
        if version.pk == release.candidate_id or split == SPLIT_STOP:
            promoted = version.pk == release.candidate_id
            release.outcome = Release.Outcome.PROMOTED if promoted else Release.Outcome.STOPPED
            release.stopped_at = timezone.now()
            release.save(update_fields=["outcome", "stopped_at"])
    product.live_version = version
    product.save(update_fields=["live_version", "updated_at"])
    audit_record(team=product.team, actor=user, action="version.published", summary=f"{product.name} v{version.number}")
    return product


@transaction.atomic
def product_rename(*, product: Product, name: str, user: AbstractBaseUser | None = None) -> Product:
    """Give the product a new name; its address (slug) stays, so links, API calls and widgets keep working."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the product a name."})
    old, product.name = product.name, name
    product.full_clean()
    product.save(update_fields=["name", "updated_at"])
    if old != name:
        audit_record(team=product.team, actor=user, action="product.renamed", summary=f"{old} → {name}"[:300])
    return product


@transaction.atomic
def product_archive(*, product: Product, user: AbstractBaseUser | None = None) -> Product:
    """Unpublish the product and set it aside: no live version, no A/B split; its versions and logs stay.

    The widget and the API refuse an archived product (products/generation.py) until it is restored.
    """
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.archived_at is not None:
        return product
    Release.objects.filter(product=product, stopped_at__isnull=True).update(
        outcome=Release.Outcome.STOPPED, stopped_at=timezone.now())
    product.live_version = None
    product.archived_at = timezone.now()
    product.save(update_fields=["live_version", "archived_at", "updated_at"])
    audit_record(team=product.team, actor=user, action="product.archived", summary=product.name)
    return product


@transaction.atomic
def product_restore(*, product: Product, user: AbstractBaseUser | None = None) -> Product:
    """Bring an archived product back to the list, still unpublished: a person publishes a version again."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.archived_at is not None:
        audit_record(team=product.team, actor=user, action="product.restored", summary=product.name)
    product.archived_at = None
    product.save(update_fields=["archived_at", "updated_at"])
    return product


@transaction.atomic
def product_delete(*, product: Product, user: AbstractBaseUser | None = None) -> None:
    """Delete the product with its versions, logs, splits, comparisons and training runs; datasets stay.

    A model it trained that another product's version still serves blocks it (that version would break).
    """
    from django.db.models import RestrictedError

    name, team = product.name, product.team
    try:
        with transaction.atomic():  # a refused delete must not take the audit row's transaction with it
            product.delete()
    except RestrictedError:
        raise ValidationError(f"“{name}” cannot be deleted: another product's version serves a model it trained. "
                              "Delete that version's product first, or archive this one instead.") from None
    audit_record(team=team, actor=user, action="product.deleted", summary=name)


def product_version_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Plain-language list of what changed between two configs (``None``: the first version)."""
    if old is None:
        return ["First version."]
    labels = {"system_prompt": "Instructions", "prompt_template": "Prompt", "input_schema": "Inputs",
              "base_model": "Base model", "fine_tuned_artifact_id": "Fine-tuned model",
              "kind_config": "Product settings", "knowledge_version_id": "Knowledge base",
              "remote_engine": "Engine", "remote_model": "Model on the remote engine",
              "remote_api_key": "Remote engine API key", "widget": "Widget texts"}
    changes = [f"{label} changed." for name, label in labels.items() if old.get(name) != new.get(name)]
    old_settings, new_settings = old.get("settings") or {}, new.get("settings") or {}
    for name in ("creativity", "length", "variants"):
        if old_settings.get(name) != new_settings.get(name):
            changes.append(f"{name.capitalize()}: {old_settings.get(name)} → {new_settings.get(name)}.")
    return changes or ["No changes to the settings."]


@log_transaction()
def generation_create(
    *, product: Product, version: ProductVersion | None, channel: str, user: AbstractBaseUser | None,
    inputs: dict[str, Any], variant: int = 0, visitor: str = "", release: Release | None = None, arm: str = "",
) -> Generation:
    generation = Generation(
        team_id=product.team_id, product=product, version=version, channel=channel,
        user=user if user and user.is_authenticated else None, inputs=inputs, variant=variant,
        visitor=visitor, release=release, arm=arm,
    )
    generation.save()
    return generation


@log_transaction()
def generation_finish(
    *, generation_id: int, output: str, finish_reason: str, tokens_in: int, tokens_out: int,
    time_to_first_token_s: float | None, duration_s: float, error: str = "", result: dict[str, Any] | None = None,
) -> None:
    """Record how a generation ended (``result`` is the kind's payload); the first ending recorded stays.

    A client that gave up on a silent worker has already told the person and marked the row failed; a
    worker that was only slow must not turn it into "finished" afterwards.
    """
    updated = Generation.objects.filter(pk=generation_id, status=Generation.Status.RUNNING).update(
        output=output,
        result=result if result is not None else {"text": output},
        finish_reason=finish_reason,
        status=Generation.Status.FAILED if finish_reason == "error" else Generation.Status.FINISHED,
        error=error,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        time_to_first_token_ms=None if time_to_first_token_s is None else round(time_to_first_token_s * 1000),
        duration_ms=round(duration_s * 1000),
    )
    if updated:  # only the ending that counts is counted: a retry or a late worker updates nothing
        rollup_generation_finished(generation_id=generation_id)


@transaction.atomic
def generation_feedback_set(*, generation: Generation, value: int, user: AbstractBaseUser | None = None) -> Generation:
    """Keep the latest 👍/👎 on the generation (the logs filter by it) and the rating in its feedback history."""
    if value not in (-1, 0, 1):
        raise ValidationError("Feedback is 1 (good), -1 (bad) or 0 (none).")
    # Locked, so two ratings at once move the rollup from the value each of them replaced.
    current = Generation.objects.select_for_update(of=("self",)).select_related("version").get(pk=generation.pk)
    old, generation.feedback, current.feedback = current.feedback, value, value
    current.save(update_fields=["feedback"])
    rollup_feedback_changed(generation=current, old=old, new=value)
    visitor = current.visitor if current.channel == Generation.Channel.WIDGET else ""
    feedback_event_record(generation=current, kind=FeedbackEvent.Kind.RATING, value={"rating": value}, user=user,
                          visitor=visitor)
    return generation


@transaction.atomic
def feedback_event_record(
    *, generation: Generation, kind: str, item: str = "", value: dict[str, Any] | None = None,
    visitor: str = "", user: AbstractBaseUser | None = None,
) -> FeedbackEvent:
    """Record what someone did with a result (a correction, a click or purchase of a recommended item).

    The one way to write a FeedbackEvent: the release page and dashboards count it from the rollups.
    """
    event = FeedbackEvent(
        team_id=generation.team_id, product_id=generation.product_id, generation=generation, kind=kind,
        item=item[:200], value=value or {}, channel=generation.channel, visitor=visitor[:64],
        user=user if user and user.is_authenticated else None,
    )
    event.full_clean()
    event.save()
    rollup_event_recorded(event=event)
    return event


@transaction.atomic
def generation_item_event_record(
    *, generation: Generation, kind: str, item: str, user: AbstractBaseUser | None = None, visitor: str = "",
) -> FeedbackEvent:
    """A click or purchase of one item a recommendation listed; ValidationError when it listed no such item."""
    if kind not in (FeedbackEvent.Kind.CLICK, FeedbackEvent.Kind.PURCHASE):
        raise ValidationError({"event": "The event is “click” or “purchase”."})
    listed = [str(entry.get("id")) for entry in (generation.result or {}).get("items", []) if isinstance(entry, dict)]
    if not listed:
        raise ValidationError({"item": "This generation recommended no items; clicks and purchases are reported "
                                       "on recommendations."})
    if str(item) not in listed:
        raise ValidationError({"item": f"“{item}” is not one of the items this generation recommended "
                                       f"({', '.join(listed[:10])})."})
    return feedback_event_record(generation=generation, kind=kind, item=str(item), user=user, visitor=visitor)


@transaction.atomic
def product_engine_update(
    *, product: Product, remote_engine: str, remote_model: str, api_key: str | None = None,
    clear_api_key: bool = False,
) -> Product:
    """Point the draft at a remote engine by its allow-list name ("" = this studio), with its model and API key.

    ``api_key`` None keeps the saved key; a new engine drops it, so a key is only ever sent to the server it
    was typed for. Saved versions keep what they were frozen with until a new version is published.
    """
    remote_engine, remote_model = remote_engine.strip(), remote_model.strip()
    kind = get_kind(product.kind)
    if remote_engine and kind.task not in (Task.GENERATE, Task.ANSWER):  # the runners that write text stream from it
        raise ValidationError({"remote_engine": f"{kind.name} products run on this studio's engine only, for now."})
    if remote_engine:
        try:
            remote_engine_url(remote_engine)
        except RemoteEngineError as exc:
            raise ValidationError({"remote_engine": str(exc)}) from None
        if not remote_model:
            raise ValidationError({"remote_model": "Name the model to use on that engine."})
    else:
        remote_model, api_key, clear_api_key = "", None, True
    if clear_api_key or remote_engine != product.remote_engine:
        product.remote_api_key = ""
    if api_key:
        product.remote_api_key = api_key_encrypt(api_key)
    product.remote_engine, product.remote_model = remote_engine, remote_model
    product.full_clean()
    product.save()
    return product
