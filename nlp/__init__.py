"""targetkg.nlp"""
