"""Retrieval: llama-index ingestion, FAISS index over MiniLM embeddings, the rag systems."""
