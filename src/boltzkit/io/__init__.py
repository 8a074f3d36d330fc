"""boltzkit.io"""
