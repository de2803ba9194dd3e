"""The demo suite's vocabulary: the word lists its templates draw from (demo_suite.py).

Kept apart from the generators so the tasks read in one screen. Changing a list changes the
generated texts for every seed, so bump the cache folder name in data/sources.py with it.
"""

from __future__ import annotations

PEOPLE = (
    "my neighbour",
    "the coach",
    "our teacher",
    "the new manager",
    "my sister",
    "the old farmer",
    "a young student",
    "the reporter",
    "Anna",
    "Marco",
    "the pilot",
    "my uncle",
)
ANIMALS = (
    "the dog",
    "a cat",
    "the old horse",
    "a parrot",
    "the rabbit",
    "a small fox",
    "the cow",
    "an owl",
    "the goat",
    "a duck",
    "the pony",
    "a hamster",
)
THINGS = (
    "the kettle",
    "a red umbrella",
    "the old piano",
    "a bicycle",
    "the lamp",
    "a suitcase",
    "the clock",
    "a wooden chair",
    "the radio",
    "a blue scarf",
    "the mirror",
    "a backpack",
)
PLACES = (
    "by the door",
    "in the garden",
    "under the table",
    "near the window",
    "on the stairs",
    "in the hall",
)
TOPICS = {
    "sports": (
        "the football match",
        "the tennis final",
        "the marathon",
        "the basketball game",
        "the cycling race",
        "the swimming contest",
        "the hockey season",
        "the boxing night",
    ),
    "business": (
        "the quarterly earnings report",
        "the bank merger",
        "the new shop",
        "the company's sales forecast",
        "the stock market rally",
        "the factory's new contract",
        "the startup's funding round",
        "the price increase",
    ),
    "science": (
        "the telescope survey",
        "the chemistry experiment",
        "the vaccine trial",
        "the physics lecture",
        "the fossil discovery",
        "the climate study",
        "the robot prototype",
        "the genetics paper",
    ),
    "politics": (
        "the election debate",
        "the new tax law",
        "the senate vote",
        "the mayor's speech",
        "the party conference",
        "the minister's resignation",
        "the border treaty",
        "the council meeting",
    ),
}
EVENTS = tuple(e for events in TOPICS.values() for e in events)
POSITIVE = (
    "wonderful",
    "excellent",
    "delightful",
    "brilliant",
    "superb",
    "fantastic",
    "charming",
    "impressive",
    "great",
    "lovely",
)
NEGATIVE = (
    "awful",
    "terrible",
    "boring",
    "disappointing",
    "dreadful",
    "horrible",
    "dull",
    "poor",
    "annoying",
    "painful",
)
ADJECTIVES = POSITIVE + NEGATIVE
# A second sentiment domain with its own words: reviews of products.
PRODUCTS = (
    "the blender",
    "this phone",
    "the headphones",
    "the vacuum cleaner",
    "this laptop bag",
    "the coffee machine",
    "the running shoes",
    "this desk lamp",
    "the electric kettle",
    "the tent",
    "this keyboard",
    "the toaster",
)
PRODUCT_FORMS = (
    "I bought {p} last month and it is {a}.",
    "{P} arrived yesterday; it is {a}.",
    "After a week of use, {p} seems {a}.",
    "My verdict on {p}: {a}.",
    "Customer review: {p} turned out {a}.",
    "Two stars or five? {P} is {a}.",
)
PRODUCT_POSITIVE = (
    "reliable",
    "sturdy",
    "handy",
    "well made",
    "comfortable",
    "worth every penny",
    "solid",
    "easy to use",
    "a real bargain",
    "top quality",
)
PRODUCT_NEGATIVE = (
    "flimsy",
    "broken",
    "useless",
    "faulty",
    "overpriced",
    "cheaply made",
    "hard to use",
    "a waste of money",
    "unreliable",
    "falling apart",
)
# Hotel stays, judged with review_sentiment's own adjectives.
STAYS = (
    "the hotel",
    "the guesthouse",
    "the campsite",
    "the hostel",
    "the holiday flat",
    "the seaside inn",
    "the mountain lodge",
    "the motel",
)
STAY_PARTS = (
    "the room",
    "the breakfast",
    "the staff",
    "the bed",
    "the view",
    "the pool",
    "the shower",
    "the check-in",
)
NAMES = (
    "Anna",
    "Marco",
    "Priya",
    "Tom",
    "Lena",
    "Omar",
    "Sofia",
    "James",
    "Yuki",
    "Carlos",
    "Grace",
    "Ivan",
)
# (plain wording, paraphrased wording) of one deed; a "same" pair may use either for either side.
DEEDS = (
    ("bought a bicycle", "purchased a bike"),
    ("sold a car", "sold an automobile"),
    ("lost a wallet", "misplaced a wallet"),
    ("visited a museum", "went to a museum"),
    ("fixed a laptop", "repaired a laptop"),
    ("cooked a big dinner", "made a large dinner"),
    ("won a chess game", "won a game of chess"),
    ("met an old friend", "ran into an old friend"),
    ("started a new job", "began a new job"),
    ("painted a fence", "gave a fence a coat of paint"),
)
CITIES = (
    "Paris",
    "Rome",
    "Berlin",
    "Madrid",
    "Lisbon",
    "Vienna",
    "Prague",
    "Dublin",
    "Oslo",
    "Athens",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVENT_FORMS = (
    "{n} {d} in {c} on {w}.",
    "On {w}, {n} {d} in {c}.",
    "In {c}, {n} {d} on {w}.",
    "{n} {d} on {w} in {c}.",
    "It was {w} when {n} {d} in {c}.",
)
