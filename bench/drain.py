async def dispatch_part(*a):
    pass
