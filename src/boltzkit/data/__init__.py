"""boltzkit.data"""
