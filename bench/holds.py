async def hold_part(*a):
    pass
