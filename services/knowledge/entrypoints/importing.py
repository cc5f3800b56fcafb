"""Bulk import of plain text, Markdown and .docx documents (批量导入), split into entries by their headings."""

from __future__ import annotations

from services.knowledge.entrypoints.base import KnowledgeBase


class ImportEntrypoints(KnowledgeBase):
    """(Step 4: being built.)"""
