"""ionos"""
