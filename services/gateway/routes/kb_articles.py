"""The knowledge base's entries (资料库): search, entries, versions, the review workflow, and
the public's read of live entries. Owned by knowledge: these routes only authenticate,
authorize and call it, passing the caller (:func:`kb_actor`); knowledge scopes a department to
its own entries (another department's draft is 404, a change to its live entry 403)."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal
from services.gateway.http import read_json, route
from shared.errors import Invalid

SEARCH_QUERY = ("q", "article_type", "department_code", "category", "territory_code", "limit",
                "offset")
LIST_QUERY = ("status", "article_type", "department_code", "review_due_before", "limit",
              "offset")
READ_QUERY = ("version", "via", "ticket_no")


def kb_actor(who: Principal) -> dict[str, Any]:
    """The caller as knowledge decides what it may see and do (services/knowledge/domain.Actor)."""
    return {"name": who.as_actor(), "role": who.role, "department_code": who.department_code}


def _args(request: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k in names}


class KnowledgeArticleRoutes:
    knowledge: Any
    dispatch: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    # -- search ----------------------------------------------------------------------------------
    @route("GET", "/api/v1/kb/search", summary="资料库检索 Search the published, valid entries "
           "(q required; over 200 characters truncated)", action="kb.search", query=SEARCH_QUERY)
    def kb_search(self, request: Any) -> Any:
        who = self._authorize(request, "kb.search")
        return self.knowledge.search(_args(request, SEARCH_QUERY), kb_actor(who))

    # -- entries ---------------------------------------------------------------------------------
    @route("GET", "/api/v1/kb/articles", summary="资料列表 Entries (the center: all; a "
           "department: its own; others: live ones)", action="kb.search", query=LIST_QUERY)
    def kb_articles(self, request: Any) -> Any:
        who = self._authorize(request, "kb.search")
        return self.knowledge.list_articles(_args(request, LIST_QUERY), kb_actor(who))

    @route("POST", "/api/v1/kb/articles", summary="录入资料 Add an entry (a department for "
           "itself; publish: the center at once)", action="kb.write", body="Article",
           department_scoped=True)
    def kb_create(self, request: Any) -> Any:
        who = self._authorize(request, "kb.write")
        body = read_json(request)
        code = body.get("department_code")
        if isinstance(code, str) and code and who.role != "department" and code not in {
                d["code"] for d in self.dispatch.departments()}:
            raise Invalid.fields({"department_code": [f"未知部门 unknown department {code}"]})
        article = self.knowledge.create_article(body, kb_actor(who))
        return 201, article, {"Location": f"/api/v1/kb/articles/{article['id']}"}

    @route("GET", "/api/v1/kb/articles/<int:article_id>", summary="资料详情 One entry: the "
           "working version for its editors, the live one for others", action="kb.search",
           query=READ_QUERY)
    def kb_article(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.search")
        return self.knowledge.get_article(article_id, kb_actor(who), _args(request, READ_QUERY))

    @route("PATCH", "/api/v1/kb/articles/<int:article_id>", summary="修改资料 Edit an entry: a "
           "new version from the fields given", action="kb.write", body="ArticleEdit",
           department_scoped=True)
    def kb_edit(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.write")
        return self.knowledge.edit_article(article_id, read_json(request), kb_actor(who))

    # -- the review workflow ---------------------------------------------------------------------
    @route("POST", "/api/v1/kb/articles/<int:article_id>/submit", summary="送审 Submit the "
           "working version for review", action="kb.write", body="ArticleAction",
           department_scoped=True)
    def kb_submit(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.write")
        return self.knowledge.submit_article(article_id, read_json(request), kb_actor(who))

    @route("POST", "/api/v1/kb/articles/<int:article_id>/reject", summary="退回 Send the "
           "version under review back to its editors, with a comment", action="kb.review",
           body="ArticleRejection")
    def kb_reject(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.review")
        return self.knowledge.reject_article(article_id, read_json(request), kb_actor(who))

    @route("POST", "/api/v1/kb/articles/<int:article_id>/publish", summary="发布 Publish the "
           "working version (a guide needs its required fields)", action="kb.review",
           body="ArticleAction")
    def kb_publish(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.review")
        return self.knowledge.publish_article(article_id, read_json(request), kb_actor(who))

    @route("POST", "/api/v1/kb/articles/<int:article_id>/archive", summary="归档 Archive an "
           "entry: it leaves the knowledge base", action="kb.review", body="ArticleAction")
    def kb_archive(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.review")
        return self.knowledge.archive_article(article_id, read_json(request), kb_actor(who))

    @route("GET", "/api/v1/kb/articles/<int:article_id>/versions", summary="修改历史 An entry's "
           "versions and review log (its department and the center)", action="kb.write",
           department_scoped=True)
    def kb_versions(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.write")
        return self.knowledge.article_history(article_id, kb_actor(who))

    @route("GET", "/api/v1/kb/articles/<int:article_id>/diff", summary="版本比较 What changed "
           "between two versions: field by field, the body by lines and characters",
           action="kb.write", query=("from", "to"), department_scoped=True)
    def kb_diff(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.write")
        return self.knowledge.article_diff(article_id, _args(request, ("from", "to")),
                                           kb_actor(who))

    # -- the public (no login) -------------------------------------------------------------------
    @route("GET", "/api/v1/kb/public/search", summary="公众检索 The public's search of live "
           "entries (no login)", action=None, query=SEARCH_QUERY)
    def kb_public_search(self, request: Any) -> Any:
        return self.knowledge.public_search(_args(request, SEARCH_QUERY))

    @route("GET", "/api/v1/kb/public/articles/<int:article_id>", summary="公众阅读 A live "
           "entry as the public reads it (no login)", action=None)
    def kb_public_article(self, request: Any, article_id: int) -> Any:
        return self.knowledge.public_article(article_id)
