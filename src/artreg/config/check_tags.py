"""``[tags]`` and a target's ``[targets.NAME.tags]``: the convention and retention rules."""

from __future__ import annotations

from artreg.config import keys
from artreg.config.check import Checker
from artreg.config.model import DEFAULT_RULES, Rule, TagRules
from artreg.config.values import KeyPath, show
from artreg.core.tags import (
    DEFAULT_PREFIX,
    PUBLISHED_CATEGORIES,
    Category,
    Convention,
    classify,
    compile_pattern,
)
from artreg.errors import PatternError


class TagChecks(Checker):
    """The tag convention and each category's retention rule."""

    def tags(self, data: dict[str, object]) -> TagRules:
        path: KeyPath = ("tags",)
        table = self.table(data, "tags", ())
        self.check_keys(table, path, keys.TAGS)
        prefix = self.string(table, keys.TAG_PREFIX, path)
        rules: dict[Category, Rule] = {}
        sound = prefix is not None or "prefix" not in table
        for category in PUBLISHED_CATEGORIES:
            sub = self.table(table, category.value, path)
            rule = self.rule(sub, (*path, category.value), category, DEFAULT_RULES[category])
            if rule is None:
                sound = False
                rule = DEFAULT_RULES[category]
            rules[category] = rule
        tag_rules = TagRules(
            prefix=prefix if prefix is not None else DEFAULT_PREFIX,
            release=rules[Category.RELEASE],
            extra=rules[Category.EXTRA],
            dev=rules[Category.DEV],
        )
        if sound:  # examples are judged by the convention, which must be whole first
            convention = tag_rules.convention()
            for category in (Category.EXTRA, Category.DEV):
                self.examples(tag_rules.rule(category), (*path, category.value), convention)
        return tag_rules

    def rule(
        self,
        table: dict[str, object],
        path: KeyPath,
        category: Category,
        base: Rule,
        *,
        override: bool = False,
        allow_expire: bool = False,
    ) -> Rule | None:
        """One ``[tags.CATEGORY]`` (or a target's override of it) merged over ``base``.

        None when the regular expression is broken (the convention cannot be built).
        """
        spec = (keys.OVERRIDES if override else keys.RULES)[category.value]
        self.check_keys(table, path, spec)
        keep = self.string(table, keys.KEEP, path)
        keep_last = self.integer(table, keys.KEEP_LAST, path)
        expire_after = self.duration(table, keys.EXPIRE_AFTER, path)
        protect = self.string_list(table, keys.PROTECT, path)
        allowed = self.boolean(table, keys.ALLOW_EXPIRE, path) if not override else None
        if allowed is None:
            allowed = allow_expire if override else base.allow_expire
        expiring = self.expiring(table, path, keep, allowed=allowed)
        sound, match = self.match(table, path, base.match)
        if not sound:
            return None
        examples = self.string_list(table, keys.EXAMPLES, path)

        if keep is not None:
            keep_forever, last, after = True, None, None
        elif expiring:
            keep_forever, last, after = False, base.keep_last, base.expire_after
        else:
            keep_forever, last, after = base.keep_forever, base.keep_last, base.expire_after
        return Rule(
            keep_forever=keep_forever,
            keep_last=keep_last if keep_last is not None else last,
            expire_after=expire_after if expire_after is not None else after,
            protect=tuple(dict.fromkeys((*base.protect, *(protect or ())))),
            match=match,
            examples=examples if examples is not None else base.examples,
            allow_expire=allowed,
        )

    def expiring(
        self,
        table: dict[str, object],
        path: KeyPath,
        keep: str | None,
        *,
        allowed: bool,
    ) -> list[str]:
        """The keys that let builds expire; contradictions and the release rule reported."""
        spec = keys.RULES[str(path[-1])]
        contradicted = spec.conflicts.get("keep", ())
        expiring = [key for key in contradicted if key in table]
        if keep is not None and expiring:
            self.problem(
                (*path, "keep"),
                f"'forever' contradicts {' and '.join(expiring)}: "
                f"remove keep, or remove {' and '.join(expiring)}",
            )
        if spec.needs_flag is None or not expiring or keep is not None:
            return expiring
        flag = spec.needs_flag[1]
        if not allowed:
            for key in expiring:
                self.problem(
                    (*path, key),
                    f"releases are kept forever: remove {key}, or add "
                    f"{flag} = true to [tags.release] to let retention delete releases",
                )
        else:
            settings = ", ".join(f"{key} = {show(table[key])}" for key in expiring)
            self.warn(path, f"{flag} = true: retention may delete releases ({settings})")
        return expiring

    def match(
        self, table: dict[str, object], path: KeyPath, base: str | None
    ) -> tuple[bool, str | None]:
        """(False, None) when ``match`` is broken, else its expression (``base`` if absent)."""
        if "match" not in table:
            return True, base
        value = table["match"]
        if not isinstance(value, str):
            self.expected((*path, "match"), "a regular expression (string)", value)
            return False, None
        try:
            compile_pattern(value)
        except PatternError as exc:
            self.problem(
                (*path, "match"),
                f"expected a regular expression, got {value!r} ({exc}); "
                "fix it (RE2 syntax, which matches in linear time: no lookaround or "
                "backreferences; the whole tag must match)",
            )
            return False, None
        return True, value

    def examples(self, rule: Rule, path: KeyPath, convention: Convention) -> None:
        category = Category(path[-1])
        for index, example in enumerate(rule.examples):
            verdict = classify(example, convention)
            if verdict.category is category:
                continue
            found = (
                f"invalid: {verdict.reason}" if not verdict.valid else f"a {verdict.category} tag"
            )
            fix = f"fix the example or tags.{category.value}.match"
            if category is Category.EXTRA and convention.extra_match is None:
                fix = "fix the example or tags.prefix"
            article = "an" if category is Category.EXTRA else "a"
            self.problem(
                (*path, "examples", index),
                f"expected {article} {category} tag, got {example!r} ({found}); {fix}",
            )

    def target_tags(
        self, item: dict[str, object], path: KeyPath, tags: TagRules
    ) -> TagRules | None:
        if "tags" not in item:
            return None
        table = self.table(item, "tags", path)
        tags_path: KeyPath = (*path, "tags")
        self.check_keys(table, tags_path, keys.TARGET_TAGS)
        rules: dict[Category, Rule] = {}
        for category in PUBLISHED_CATEGORIES:
            base = tags.rule(category)
            sub = self.table(table, category.value, tags_path)
            rule = self.rule(
                sub,
                (*tags_path, category.value),
                category,
                base,
                override=True,
                allow_expire=tags.release.allow_expire,
            )
            rules[category] = rule if rule is not None else base
        return TagRules(
            prefix=tags.prefix,
            release=rules[Category.RELEASE],
            extra=rules[Category.EXTRA],
            dev=rules[Category.DEV],
        )
