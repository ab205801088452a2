from fake_bot_api import start_menu, press, reply

async def test_smoke(api, bot, started_logger):
    ada = api.user(1, "Ada")
    menu = await start_menu(api, ada)
    print(menu.text, menu.labels())
    started_logger.store.append("Gen", "a", [1000.0, 1001.0], [1.0, 2.0], "V")
    m = await press(api, ada, "Latest values", "Latest")
    print(m.text, m.labels())
