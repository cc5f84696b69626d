"""utho"""
