"""boltzkit.interpret"""
