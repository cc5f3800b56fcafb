"""Knowledge's entrypoints, one mixin per concept, combined into
:class:`services.knowledge.service.KnowledgeService`:

- :mod:`.articles` — entries, their versions and diffs, the review workflow (录入、审核、发布、归档);
- :mod:`.search` — search (检索) and did-you-mean over the published, valid entries;
- :mod:`.importing` — bulk import of plain text, Markdown and .docx documents;
- :mod:`.usage` — use and monitoring (资料库运行监控);
- :mod:`.routing` — routing help (派单辅助): departments ranked for an order's text;
- :mod:`.base` — what several of them share.
"""
