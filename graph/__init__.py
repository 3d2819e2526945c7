"""targetkg.graph"""
