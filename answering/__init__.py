"""Answering questions from a channel's documents with its adapter: retrieval, a warm model, sources."""
