"""Word lists that the statement parser uses to guess what a liked thing or a noun is about.

Small, hand-written and deliberately incomplete: a word missing here only makes the parser fall
back to a broader subject ("hobby", "identity"), never to a wrong target.
"""

from __future__ import annotations

FOODS = frozenset(
    """food foods cuisine pizza pasta sushi tacos taco burgers burger cheeseburgers cheeseburger
    steak chicken fish seafood shrimp lobster salad salads soup curry ramen noodles rice bread
    cheese chocolate candy donuts doughnuts cookies cake cakes pie ice cream dessert desserts
    fruit fruits vegetables veggies apples bananas strawberries hummus falafel shawarma kebab
    barbecue bbq bacon eggs pancakes waffles sandwiches fries chips popcorn spicy snacks
    italian mexican chinese japanese thai indian korean french greek vietnamese lebanese
    garlic peanut peanuts nuts meat pork beef lamb tofu avocado mango sweets onions onion
    muffins muffin bagels croissants tomatoes potatoes mushrooms olives pickles sweet""".split()
)

DRINKS = frozenset(
    """coffee tea espresso latte cappuccino beer wine whiskey whisky scotch vodka rum gin tequila
    cocktails cocktail soda juice smoothies smoothie milk water kombucha lemonade cider
    bourbon champagne matcha""".split()
)

MUSIC = frozenset(
    """music songs song band bands rock jazz blues pop hip hop rap metal country folk classical
    reggae punk opera edm techno house soul funk gospel bluegrass indie r&b k-pop kpop
    musicals albums singer singers""".split()
)

SPORTS = frozenset(
    """soccer football basketball baseball hockey tennis golf volleyball rugby cricket
    badminton boxing wrestling mma lacrosse softball bowling skiing snowboarding surfing
    swimming cycling running marathons climbing karate judo taekwondo fencing squash
    handball polo nhl nfl nba mlb""".split()
)

INSTRUMENTS = frozenset(
    """guitar piano violin drums drum bass cello flute saxophone sax trumpet clarinet ukulele
    harp banjo keyboard organ harmonica viola trombone mandolin accordion""".split()
)

ANIMALS = frozenset(
    """dog dogs cat cats puppy puppies kitten kittens horse horses rabbit rabbits bunny bunnies
    hamster hamsters parrot parrots bird birds fish goldfish turtle turtles tortoise snake
    snakes lizard lizards iguana ferret ferrets cow cows goat goats chicken chickens pig pigs
    guinea pig pigs gerbil mouse mice rat rats lab labrador retriever poodle terrier beagle
    shepherd bulldog husky chihuahua dachshund pony""".split()
)

COLORS = frozenset(
    """red blue green yellow orange purple pink black white grey gray brown teal turquoise
    navy violet magenta beige maroon gold silver lavender""".split()
)

SEASONS = frozenset("spring summer autumn fall winter".split())

FILMS = frozenset("movie movies film films cinema comedies documentaries anime horror thrillers sitcoms".split())

BOOKS = frozenset("book books novels novel poetry comics comic manga mysteries romances fiction".split())

GAMES = frozenset("games game videogames video chess sudoku puzzles crosswords".split())

VEHICLES = frozenset(
    """car cars truck trucks van minivan suv motorcycle motorbike bike bicycle scooter jeep
    sedan pickup tesla bmw ford toyota honda nissan subaru audi mercedes volkswagen jeep
    chevy chevrolet porsche prius civic corolla pathfinder f150 mustang camper rv""".split()
)

LANGUAGES = frozenset(
    """english spanish french german italian portuguese russian chinese mandarin cantonese
    japanese korean arabic hindi bengali urdu turkish dutch swedish norwegian danish finnish
    polish greek hebrew swahili vietnamese thai indonesian tagalog persian farsi ukrainian
    czech romanian hungarian latin esperanto sign asl""".split()
)

PROGRAMMING = frozenset(
    """python rust go golang java javascript typescript c c++ c# kotlin swift ruby php scala
    haskell elixir erlang clojure julia r matlab lua perl dart zig ocaml f# fortran cobol sql""".split()
)

TECH = frozenset(
    """iphone android mac macbook windows linux ubuntu ipad pixel samsung chromebook
    thinkpad vim emacs vscode""".split()
)

RELIGIONS = frozenset(
    """christian buddhist muslim jewish jew hindu catholic protestant mormon atheist agnostic
    sikh pagan baptist methodist lutheran orthodox evangelical religious spiritual quaker""".split()
)

DIETS = frozenset(
    """vegan vegetarian pescatarian pescetarian flexitarian carnivore keto paleo kosher halal
    gluten-free omnivore herbivore""".split()
)

NATIONALITIES = frozenset(
    """american british english canadian mexican australian irish scottish french german
    italian spanish portuguese brazilian indian chinese japanese korean russian polish dutch
    swedish nigerian kenyan egyptian filipino vietnamese greek turkish""".split()
)

RELATIONSHIP_STATES = frozenset(
    "married single divorced engaged widowed separated dating taken".split()
)

FAMILY_NOUNS = frozenset(
    """kid kids child children son sons daughter daughters sister sisters brother brothers
    sibling siblings grandchildren grandkids grandchild twins twin husband wife partner
    boyfriend girlfriend fiance fiancee mother father mom dad parents parent grandmother
    grandfather grandma grandpa aunt uncle cousin cousins nephew niece stepson stepdaughter
    family mother-in-law descendant widow widower spouse""".split()
)

AGE_WORDS = frozenset(
    """old young teenager teen elderly senior boomer millennial retiree toddler adult
    twenties thirties forties fifties sixties""".split()
)

GENDER_WORDS = frozenset("woman man girl boy male female guy lady gentleman".split())

APPEARANCE_NOUNS = frozenset("hair eyes eye skin beard mustache tattoo tattoos freckles piercings toes nose dimples".split())

HEALTH_NOUNS = frozenset(
    """diabetes asthma arthritis cancer adhd autism anxiety depression migraines migraine
    celiac epilepsy insomnia allergies broken injury disease disorder condition syndrome
    pain""".split()
)

HOUSING_NOUNS = frozenset(
    "house home apartment flat condo trailer dorm farmhouse cabin mansion studio townhouse loft".split()
)

SCHOOL_WORDS = frozenset("school college university academy institute kindergarten grade class".split())

# Words ending like professions that are not jobs ("a clean eater", "an early riser").
NOT_JOBS = frozenset(
    """eater drinker sleeper riser smoker nonsmoker owner member lover believer survivor dreamer
    worrier introvert extrovert person fan beginner newcomer foodie learner talker thinker
    listener feminist optimist pessimist perfectionist idealist realist minimalist
    descendant animal adult teenager""".split()
)

# Hobbyist nouns and the activity each names ("an avid runner" -> "running").
HOBBYISTS = {
    "runner": "running", "jogger": "jogging", "swimmer": "swimming", "gamer": "gaming",
    "reader": "reading", "cyclist": "cycling", "biker": "biking", "hiker": "hiking",
    "kayaker": "kayaking", "surfer": "surfing", "climber": "climbing", "skier": "skiing",
    "skater": "skating", "golfer": "golf", "knitter": "knitting", "collector": "collecting",
    "bookworm": "reading", "camper": "camping", "fisherman": "fishing", "hunter": "hunting",
    "birdwatcher": "bird watching", "traveler": "traveling", "traveller": "travelling",
    "gardener": "gardening", "baker": "baking", "dancer": "dancing", "blogger": "blogging",
}

PERSONALITY_NOUNS = frozenset(
    """introvert extrovert ambivert optimist pessimist perfectionist homebody loner
    workaholic procrastinator""".split()
)

SLEEP_NOUNS = frozenset({"early riser", "night owl", "morning person", "early bird", "light sleeper", "heavy sleeper"})

# Verbs that name an activity when a statement starts "I <verb> ...": "I knit hats" -> hobby.
HOBBY_VERBS = frozenset(
    """sew knit crochet quilt paint draw sketch dance swim run jog hike cook bake garden read
    write sing fish hunt surf ski skate skateboard snowboard bike cycle climb collect build
    meditate travel camp golf bowl box row sail kayak canoe dive journal blog stream vlog
    coach watch make grow brew craft carve sculpt photograph film backpack gamble ride
    practice practise play study learn visit explore restore tinker volunteer compete""".split()
)

# Targets cut here: the rest of the sentence is a new clause, not part of the preference.
CLAUSE_BREAKS = (
    " but ", " because ", " since ", " so that ", " so i ", " which ", " who ", " whom ",
    " and i ", " and we ", " and my ", " and it ", " when i ", " while i ", " although ",
    " though ", " whenever ", " even though ", "; ", " - ", ", but", ", and", ", so",
    " in my spare time", " in my free time", " in spare time", " for fun", " on the side",
    " that ", " when ", " if ", " and study ", " and work ", " and live ", " and love ",
    " and like ", " and have ", " and do ", " as my ", " last year", " next year", " this year",
    " next week", " last week", " to pay ", " to make money", " to earn ", " to help pay",
    " to relax", " to unwind", " to save ",
)

INTENSIFIERS = (
    "very", "really", "so", "quite", "pretty", "extremely", "super", "a bit", "a little",
    "naturally", "too", "incredibly", "totally", "rather", "fairly", "kind of", "sort of",
)
