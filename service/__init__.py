"""targetkg.service"""
