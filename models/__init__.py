"""targetkg.models"""
