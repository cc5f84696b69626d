"""minio"""
